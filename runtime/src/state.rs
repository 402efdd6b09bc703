//! A session's fixed-size state: conv + SSM states of every Mamba layer, one bounded KV ring per
//! attention call site, and the recent-token history of the repetition penalty.

use half::f16;
use weft_kernels::cpu::attn::KvElem;
pub use weft_kernels::cpu::attn::KvRows;

use crate::program::StateLayout;

/// How a KV ring stores keys and values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KvType {
    /// Exactly the computed keys and values.
    #[default]
    F32,
    /// Rounded to f16 when cached: half the memory, and half the bytes attention streams per
    /// token (what llama.cpp keeps by default). Relative rounding ≤ 2⁻¹¹ per element.
    F16,
}

impl KvType {
    /// Bytes per cached element.
    pub fn bytes(self) -> usize {
        match self {
            KvType::F32 => 4,
            KvType::F16 => 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KvType::F32 => "f32",
            KvType::F16 => "f16",
        }
    }
}

impl std::str::FromStr for KvType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "f32" => Ok(KvType::F32),
            "f16" => Ok(KvType::F16),
            _ => Err(format!("unknown KV cache type `{s}` (f32 or f16)")),
        }
    }
}

/// Keys or values of a ring's slots, in its element type.
#[derive(Clone, Debug)]
enum Rows {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl Rows {
    fn new(ty: KvType, len: usize) -> Self {
        match ty {
            KvType::F32 => Rows::F32(crate::mem::zeroed_huge(len)),
            KvType::F16 => Rows::F16(crate::mem::zeroed_huge(len)),
        }
    }

    fn ty(&self) -> KvType {
        match self {
            Rows::F32(_) => KvType::F32,
            Rows::F16(_) => KvType::F16,
        }
    }

    fn store(&mut self, at: usize, src: &[f32]) {
        match self {
            Rows::F32(r) => f32::store(&mut r[at..at + src.len()], src),
            Rows::F16(r) => f16::store(&mut r[at..at + src.len()], src),
        }
    }

    fn clear(&mut self) {
        match self {
            Rows::F32(r) => r.fill(0.0),
            Rows::F16(r) => r.fill(f16::ZERO),
        }
    }

    /// The elements' in-memory bytes: little-endian on the hosts weft builds for (x86-64,
    /// aarch64), which `write_le` spells out.
    fn bytes(&self) -> &[u8] {
        match self {
            Rows::F32(r) => bytemuck::cast_slice(r),
            Rows::F16(r) => bytemuck::cast_slice(r),
        }
    }

    /// Writes every element, in order, as little-endian bytes into `out` (exactly their size).
    fn write_le(&self, out: &mut [u8]) {
        match self {
            Rows::F32(r) => out
                .chunks_exact_mut(4)
                .zip(r)
                .for_each(|(o, v)| o.copy_from_slice(&v.to_le_bytes())),
            Rows::F16(r) => out
                .chunks_exact_mut(2)
                .zip(r)
                .for_each(|(o, v)| o.copy_from_slice(&v.to_le_bytes())),
        }
    }

    /// Sets every element from little-endian `bytes` (exactly the rows' size).
    fn read_le(&mut self, bytes: &[u8]) {
        match self {
            Rows::F32(r) => r.iter_mut().zip(bytes.chunks_exact(4)).for_each(|(v, b)| {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }),
            Rows::F16(r) => r.iter_mut().zip(bytes.chunks_exact(2)).for_each(|(v, b)| {
                *v = f16::from_le_bytes([b[0], b[1]]);
            }),
        }
    }
}

/// A KV cache that never grows (StreamingLLM): the first `sinks` positions stay forever, later
/// positions go round a window of `window` slots, overwriting the oldest non-sink position.
/// Keys are stored after RoPE, so a wrapped ring needs no re-rotation; each slot remembers the
/// absolute position it holds.
#[derive(Clone, Debug)]
pub struct KvRing {
    width: usize,
    sinks: usize,
    window: usize,
    keys: Rows,
    values: Rows,
    positions: Vec<u64>,
    filled: usize,
}

impl KvRing {
    /// A ring of `sinks + window` slots of `width` elements of `ty` (`window ≥ 1`).
    pub fn new(width: usize, sinks: usize, window: usize, ty: KvType) -> Self {
        let slots = sinks + window;
        KvRing {
            width,
            sinks,
            window,
            keys: Rows::new(ty, slots * width),
            values: Rows::new(ty, slots * width),
            positions: vec![0; slots],
            filled: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.sinks + self.window
    }

    /// Elements per position (kv heads × head dim).
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn kv_type(&self) -> KvType {
        self.keys.ty()
    }

    /// Positions kept forever (`0..sinks`).
    pub fn sinks(&self) -> usize {
        self.sinks
    }

    /// Slots the positions after the sinks go round.
    pub fn window(&self) -> usize {
        self.window
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
        assert!(
            k.len() == self.width && v.len() == self.width,
            "KvRing::append: width"
        );
        self.keys.store(s * self.width, k);
        self.values.store(s * self.width, v);
        self.positions[s] = pos as u64;
        self.filled = self.filled.max(s + 1);
    }

    /// Slots holding a position.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Keys and values of the filled slots, `[filled, width]` each (slot order, not position
    /// order).
    pub fn rows(&self) -> KvRows<'_> {
        let n = self.filled * self.width;
        match (&self.keys, &self.values) {
            (Rows::F32(k), Rows::F32(v)) => KvRows::F32 {
                keys: &k[..n],
                values: &v[..n],
            },
            (Rows::F16(k), Rows::F16(v)) => KvRows::F16 {
                keys: &k[..n],
                values: &v[..n],
            },
            _ => unreachable!("keys and values share the ring's type"),
        }
    }

    /// Every slot's keys and every slot's values, filled or not, as the little-endian bytes of
    /// the ring's element type (what a GPU ring holds).
    pub(crate) fn all_bytes(&self) -> (&[u8], &[u8]) {
        (self.keys.bytes(), self.values.bytes())
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
        self.keys.clear();
        self.values.clear();
        self.positions.fill(0);
        self.filled = 0;
    }

    /// Bytes of every slot's keys (and as many of its values) in little-endian form.
    pub(crate) fn rows_bytes(&self) -> usize {
        self.capacity() * self.width * self.kv_type().bytes()
    }

    /// Writes every slot's keys, then values, as little-endian bytes into `out`
    /// (`2 × rows_bytes()`).
    pub(crate) fn write_rows(&self, out: &mut [u8]) {
        let (k, v) = out.split_at_mut(self.rows_bytes());
        self.keys.write_le(k);
        self.values.write_le(v);
    }

    /// Sets every slot's keys, then values, from [`KvRing::write_rows`]' bytes.
    pub(crate) fn read_rows(&mut self, bytes: &[u8]) {
        let (k, v) = bytes.split_at(self.rows_bytes());
        self.keys.read_le(k);
        self.values.read_le(v);
    }

    pub(crate) fn parts_mut(&mut self) -> (&mut [u64], &mut usize) {
        (&mut self.positions, &mut self.filled)
    }

    pub(crate) fn parts(&self) -> (&[u64], usize) {
        (&self.positions, self.filled)
    }
}

/// Recurrent state (conv + SSM, f32) and KV rings, as laid out by the session's Programs.
#[derive(Clone, Debug)]
pub struct State {
    pub recurrent: Vec<f32>,
    pub kv: Vec<KvRing>,
}

impl State {
    pub fn new(layout: &StateLayout, sinks: usize, window: usize, kv_type: KvType) -> Self {
        State {
            recurrent: crate::mem::zeroed_huge(layout.recurrent_len),
            kv: layout
                .kv
                .iter()
                .map(|s| KvRing::new(s.width, sinks, window, kv_type))
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
            let mut ring = KvRing::new(1, sinks, window, KvType::F32);
            for next in 1..40 {
                ring.append(next - 1, &[0.0], &[0.0]);
                let (filled, positions) = ring.layout_after(next);
                assert_eq!(
                    filled,
                    ring.filled(),
                    "sinks {sinks} window {window} next {next}"
                );
                let (expected, _) = ring.parts();
                assert_eq!(positions.collect::<Vec<_>>(), expected, "next {next}");
            }
        }
    }

    #[test]
    fn ring_keeps_sinks_and_the_last_window() {
        for ty in [KvType::F32, KvType::F16] {
            let mut ring = KvRing::new(1, 2, 3, ty);
            for pos in 0..9 {
                ring.append(pos, &[pos as f32], &[-(pos as f32)]);
            }
            let mut kept = ring.positions().to_vec();
            kept.sort();
            assert_eq!(kept, vec![0, 1, 6, 7, 8]);
            let (keys, values): (Vec<f32>, Vec<f32>) = match ring.rows() {
                KvRows::F32 { keys, values } => (keys.to_vec(), values.to_vec()),
                KvRows::F16 { keys, values } => (
                    keys.iter().map(|v| v.to_f32()).collect(),
                    values.iter().map(|v| v.to_f32()).collect(),
                ),
            };
            for (s, &p) in ring.positions().iter().enumerate() {
                assert_eq!(keys[s], p as f32);
                assert_eq!(values[s], -(p as f32));
            }
        }
    }

    #[test]
    fn f16_rings_round_once_and_round_trip_their_bytes() {
        let mut ring = KvRing::new(3, 1, 2, KvType::F16);
        ring.append(0, &[1.0, 1.0 + 1e-4, -65504.0], &[0.1, 2.5, 1e-8]);
        ring.append(1, &[3.0, 4.0, 5.0], &[6.0, 7.0, 8.0]);
        let KvRows::F16 { keys, values } = ring.rows() else {
            panic!("an f16 ring")
        };
        // 1 + 1e-4 is below half an f16 step (2^-10) above 1: it rounds to 1.
        assert_eq!(keys[..3], [f16::ONE, f16::ONE, f16::from_f32(-65504.0)]);
        assert_eq!(values[0], f16::from_f32(0.1));
        assert_eq!(ring.rows_bytes(), 3 * 3 * 2);
        let mut bytes = vec![0u8; 2 * ring.rows_bytes()];
        ring.write_rows(&mut bytes);
        let mut copy = KvRing::new(3, 1, 2, KvType::F16);
        copy.read_rows(&bytes);
        let (positions, filled) = ring.parts();
        let (p, f) = copy.parts_mut();
        p.copy_from_slice(positions);
        *f = filled;
        let KvRows::F16 {
            keys: k2,
            values: v2,
        } = copy.rows()
        else {
            panic!("an f16 ring")
        };
        assert_eq!((k2, v2), (keys, values));
    }

    #[test]
    fn short_streams_fill_slots_in_order() {
        let mut ring = KvRing::new(2, 4, 8, KvType::F32);
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
