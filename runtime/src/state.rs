//! A session's fixed-size state: conv + SSM states of every Mamba layer, one bounded KV ring per
//! attention call site, and the recent-token history of the repetition penalty.

use crate::program::StateLayout;

/// A KV cache that never grows (StreamingLLM): the first `sinks` positions stay forever, later
/// positions go round a window of `window` slots, overwriting the oldest non-sink position.
/// Keys are stored after RoPE, so a wrapped ring needs no re-rotation; each slot remembers the
/// absolute position it holds.
#[derive(Clone, Debug)]
pub struct KvRing {
    width: usize,
    sinks: usize,
    window: usize,
    keys: Vec<f32>,
    values: Vec<f32>,
    positions: Vec<u64>,
    filled: usize,
}

impl KvRing {
    /// A ring of `sinks + window` slots of `width` floats (`window ≥ 1`).
    pub fn new(width: usize, sinks: usize, window: usize) -> Self {
        let slots = sinks + window;
        KvRing {
            width,
            sinks,
            window,
            keys: crate::mem::zeroed_huge(slots * width),
            values: crate::mem::zeroed_huge(slots * width),
            positions: vec![0; slots],
            filled: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.sinks + self.window
    }

    /// Floats per position (kv heads × head dim).
    pub fn width(&self) -> usize {
        self.width
    }

    /// The slot that holds absolute position `pos`.
    pub fn slot(&self, pos: usize) -> usize {
        if pos < self.sinks {
            pos
        } else {
            self.sinks + (pos - self.sinks) % self.window
        }
    }

    /// Stores the key and value of position `pos` (positions arrive in increasing order).
    pub fn append(&mut self, pos: usize, k: &[f32], v: &[f32]) {
        let s = self.slot(pos);
        let row = s * self.width..(s + 1) * self.width;
        self.keys[row.clone()].copy_from_slice(k);
        self.values[row].copy_from_slice(v);
        self.positions[s] = pos as u64;
        self.filled = self.filled.max(s + 1);
    }

    /// Slots holding a position.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Keys of the filled slots, `[filled, width]` (slot order, not position order).
    pub fn keys(&self) -> &[f32] {
        &self.keys[..self.filled * self.width]
    }

    pub fn values(&self) -> &[f32] {
        &self.values[..self.filled * self.width]
    }

    /// Absolute position held by each filled slot.
    pub fn positions(&self) -> &[u64] {
        &self.positions[..self.filled]
    }

    /// The fill and per-slot positions this ring has after positions `0..next` were appended
    /// (what a GPU session's ring holds: it keeps no positions of its own).
    pub fn layout_after(&self, next: usize) -> (usize, impl Iterator<Item = u64> + '_) {
        let filled = next.min(self.capacity());
        let positions = (0..self.capacity()).map(move |slot| {
            if slot >= filled {
                0
            } else if slot < self.sinks {
                slot as u64
            } else {
                // The newest position p < next with (p − sinks) % window == slot − sinks.
                let k = slot - self.sinks;
                let last = next - 1 - self.sinks;
                (self.sinks + last - (last + self.window - k) % self.window) as u64
            }
        });
        (filled, positions)
    }

    pub fn clear(&mut self) {
        self.keys.fill(0.0);
        self.values.fill(0.0);
        self.positions.fill(0);
        self.filled = 0;
    }

    pub(crate) fn parts_mut(&mut self) -> (&mut [f32], &mut [f32], &mut [u64], &mut usize) {
        (
            &mut self.keys,
            &mut self.values,
            &mut self.positions,
            &mut self.filled,
        )
    }

    pub(crate) fn parts(&self) -> (&[f32], &[f32], &[u64], usize) {
        (&self.keys, &self.values, &self.positions, self.filled)
    }
}

/// Recurrent state (conv + SSM, f32) and KV rings, as laid out by the session's Programs.
#[derive(Clone, Debug)]
pub struct State {
    pub recurrent: Vec<f32>,
    pub kv: Vec<KvRing>,
}

impl State {
    pub fn new(layout: &StateLayout, sinks: usize, window: usize) -> Self {
        State {
            recurrent: crate::mem::zeroed_huge(layout.recurrent_len),
            kv: layout
                .kv
                .iter()
                .map(|s| KvRing::new(s.width, sinks, window))
                .collect(),
        }
    }

    pub fn clear(&mut self) {
        self.recurrent.fill(0.0);
        self.kv.iter_mut().for_each(KvRing::clear);
    }
}

/// The last `capacity` tokens, kept contiguous without shifting: every token is written twice,
/// at `i` and `i + capacity`, so the newest `capacity` tokens are always one slice.
#[derive(Clone, Debug)]
pub struct History {
    buf: Vec<u32>,
    count: u64,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        History {
            buf: vec![0; 2 * capacity],
            count: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.buf.len() / 2
    }

    pub fn push(&mut self, token: u32) {
        let cap = self.capacity();
        if cap == 0 {
            return;
        }
        let i = (self.count % cap as u64) as usize;
        self.buf[i] = token;
        self.buf[i + cap] = token;
        self.count += 1;
    }

    /// The newest `min(n, capacity, count)` tokens, oldest first.
    pub fn recent(&self, n: usize) -> &[u32] {
        let cap = self.capacity();
        if cap == 0 {
            return &[];
        }
        let end = if self.count <= cap as u64 {
            self.count as usize
        } else {
            (self.count % cap as u64) as usize + cap
        };
        let len = n.min(end).min(cap);
        &self.buf[end - len..end]
    }

    pub fn clear(&mut self) {
        self.buf.fill(0);
        self.count = 0;
    }

    pub(crate) fn parts_mut(&mut self) -> (&mut [u32], &mut u64) {
        (&mut self.buf, &mut self.count)
    }

    pub(crate) fn parts(&self) -> (&[u32], u64) {
        (&self.buf, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_after_matches_appends() {
        for (sinks, window) in [(0, 1), (0, 4), (2, 3), (4, 1), (3, 5)] {
            let mut ring = KvRing::new(1, sinks, window);
            for next in 1..40 {
                ring.append(next - 1, &[0.0], &[0.0]);
                let (filled, positions) = ring.layout_after(next);
                assert_eq!(
                    filled,
                    ring.filled(),
                    "sinks {sinks} window {window} next {next}"
                );
                let (_, _, expected, _) = ring.parts();
                assert_eq!(positions.collect::<Vec<_>>(), expected, "next {next}");
            }
        }
    }

    #[test]
    fn ring_keeps_sinks_and_the_last_window() {
        let mut ring = KvRing::new(1, 2, 3);
        for pos in 0..9 {
            ring.append(pos, &[pos as f32], &[-(pos as f32)]);
        }
        let mut kept = ring.positions().to_vec();
        kept.sort();
        assert_eq!(kept, vec![0, 1, 6, 7, 8]);
        for (s, &p) in ring.positions().iter().enumerate() {
            assert_eq!(ring.keys()[s], p as f32);
            assert_eq!(ring.values()[s], -(p as f32));
        }
    }

    #[test]
    fn short_streams_fill_slots_in_order() {
        let mut ring = KvRing::new(2, 4, 8);
        for pos in 0..3 {
            ring.append(pos, &[1.0, 2.0], &[3.0, 4.0]);
        }
        assert_eq!(ring.filled(), 3);
        assert_eq!(ring.positions(), &[0, 1, 2]);
    }

    #[test]
    fn history_returns_the_newest_tokens_oldest_first() {
        let mut h = History::new(4);
        assert!(h.recent(3).is_empty());
        for t in 0..3 {
            h.push(t);
        }
        assert_eq!(h.recent(8), &[0, 1, 2]);
        for t in 3..11 {
            h.push(t);
        }
        assert_eq!(h.recent(8), &[7, 8, 9, 10]);
        assert_eq!(h.recent(2), &[9, 10]);
    }
}
