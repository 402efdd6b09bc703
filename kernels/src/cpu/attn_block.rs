//! Causal attention of a block of consecutive query tokens over one KV head (prefill).
//!
//! Prefill over a deep cache ran [`super::attn`] once per token: every query re-read (and, for
//! f16, re-widened) all of the head's keys and values. Here up to [`MAX_QUERIES`] query vectors
//! (the `rep` query heads that share the KV head, for a few consecutive tokens) go through the
//! cached rows together, a tile of [`TILE`] slots at a time: each tile is read and widened once
//! for the whole block, scores are a 4-query × 2-key product over the head dimension, and the
//! weighted sum of values keeps 4 queries × 16 output lanes in registers across the tile.
//! Softmax is online (running max and sum per query), in f32.
//!
//! The rows come from one or more [`Source`]s (a ring's slots in any order, the chunk's own
//! new rows) and each query sees the positions a ring of sinks + window would hold for it
//! ([`Visibility`]), so a chunk can attend before its rows are appended to a ring that they
//! will partly overwrite.
//!
//! The body is shared; the tile products ([`TileMath`]) are per instruction set: AVX2 on x86,
//! NEON on aarch64 (head dimensions that are multiples of 8), plain Rust otherwise (the
//! reference). Results match [`super::attn::attend_heads`] per query within rounding
//! (different summation order).

use super::act::exp_inplace_on;
use super::arch::ops;
use super::attn::{KvRows, f16};
use super::dispatch::{Path, selected_path};

/// Cache slots per tile.
pub const TILE: usize = 64;
/// Query vectors per block (rows × query heads per KV head).
pub const MAX_QUERIES: usize = 16;

/// The heads a block computes.
#[derive(Clone, Copy, Debug)]
pub struct BlockGeom {
    /// Head dimension.
    pub hd: usize,
    /// Query heads per KV head (GQA); a row's query vectors are `rep` consecutive heads.
    pub rep: usize,
    /// The KV head: elements `kv_head·hd..(kv_head + 1)·hd` of every cached row.
    pub kv_head: usize,
    /// Score scale (1/√hd).
    pub scale: f32,
}

/// What each row of a block sees: row `i` is the token at position `newest + i` and sees
/// position `p` iff `p ≤ newest + i` and (`p < sinks` or `p + window > newest + i`): the sinks
/// and the last `window` positions, what a ring of `sinks + window` slots holds once that
/// token is appended.
#[derive(Clone, Copy, Debug)]
pub struct Visibility {
    pub newest: u64,
    pub sinks: u64,
    pub window: u64,
}

impl Visibility {
    #[inline(always)]
    fn sees(&self, row: usize, p: u64) -> bool {
        let now = self.newest + row as u64;
        p <= now && (p < self.sinks || p + self.window > now)
    }

    /// Whether `row` sees every position in `lo..=hi` (a sufficient test: tiles that mix
    /// sinks and window positions take the per-position one).
    #[inline(always)]
    fn sees_all(&self, row: usize, lo: u64, hi: u64) -> bool {
        let now = self.newest + row as u64;
        hi <= now && (hi < self.sinks || lo + self.window > now)
    }
}

/// The positions of a source's rows.
#[derive(Clone, Copy, Debug)]
pub enum Positions<'a> {
    /// Row `t` holds position `positions[t]` (a ring's slots).
    Listed(&'a [u64]),
    /// Row `t` holds position `start + t`, for `len` rows.
    Consecutive { start: u64, len: usize },
}

impl Positions<'_> {
    fn len(&self) -> usize {
        match *self {
            Positions::Listed(p) => p.len(),
            Positions::Consecutive { len, .. } => len,
        }
    }

    /// The rows some row of a `rows`-row block may see: all of a listed source; of a
    /// consecutive one, those between the oldest position the first row sees and the newest
    /// row (positions outside are skipped, not masked).
    fn seen_range(&self, vis: &Visibility, rows: usize) -> (usize, usize) {
        match *self {
            Positions::Listed(p) => (0, p.len()),
            Positions::Consecutive { start, len } => {
                let newest = vis.newest + rows as u64 - 1;
                let end = (newest + 1).saturating_sub(start).min(len as u64) as usize;
                let oldest = if start < vis.sinks {
                    0
                } else {
                    (vis.newest + 1).saturating_sub(vis.window)
                };
                (oldest.saturating_sub(start).min(end as u64) as usize, end)
            }
        }
    }

    /// The smallest and largest position of rows `t0..t0 + tl` (`tl > 0`).
    fn bounds(&self, t0: usize, tl: usize) -> (u64, u64) {
        match *self {
            Positions::Listed(p) => p[t0..t0 + tl]
                .iter()
                .fold((u64::MAX, 0), |(lo, hi), &x| (lo.min(x), hi.max(x))),
            Positions::Consecutive { start, .. } => {
                (start + t0 as u64, start + (t0 + tl - 1) as u64)
            }
        }
    }

    #[inline(always)]
    fn at(&self, t: usize) -> u64 {
        match *self {
            Positions::Listed(p) => p[t],
            Positions::Consecutive { start, .. } => start + t as u64,
        }
    }
}

/// Cached keys and values a block attends to.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub kv: KvRows<'a>,
    /// Elements from one cached row to the next (at least `kv_heads·hd`).
    pub stride: usize,
    pub positions: Positions<'a>,
}

/// Scratch floats [`attend_block`] needs for head dimension `hd`.
pub fn block_scratch_len(hd: usize) -> usize {
    MAX_QUERIES * TILE + 2 * MAX_QUERIES + 2 * TILE * hd
}

/// Whether the selected path runs blocks of head dimension `hd` with SIMD. Where it does not,
/// the scalar body runs (same results, but slower than [`super::attn`] token by token).
pub fn has_simd(hd: usize) -> bool {
    ops::attend_block_simd(selected_path(), hd)
}

/// Attention of `rows` consecutive query rows over `sources`. `q` holds the rows `q_stride`
/// floats apart, each starting at the KV head's first query head: query head `h < rep` of row
/// `i` is `q[i·q_stride + h·hd..][..hd]`. `out` is `[rows][rep·hd]`, dense. A row that sees no
/// position gets zeros.
#[allow(clippy::too_many_arguments)]
pub fn attend_block(
    sources: &[Source],
    vis: &Visibility,
    g: &BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    attend_block_on(
        selected_path(),
        sources,
        vis,
        g,
        q,
        q_stride,
        rows,
        scratch,
        out,
    );
}

/// [`attend_block`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn attend_block_on(
    path: Path,
    sources: &[Source],
    vis: &Visibility,
    g: &BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    let (hd, rep) = (g.hd, g.rep);
    assert!(hd > 0 && rep > 0, "attend block: empty head");
    assert!(
        rows > 0 && rows * rep <= MAX_QUERIES,
        "attend block: {rows} rows × {rep} heads"
    );
    for src in sources {
        let n = src.positions.len();
        let cached = match src.kv {
            KvRows::F32 { keys, values } => keys.len().min(values.len()),
            KvRows::F16 { keys, values } => keys.len().min(values.len()),
        };
        assert!(
            n == 0 || cached >= (n - 1) * src.stride + (g.kv_head + 1) * hd,
            "attend block: kv length"
        );
    }
    assert!(
        q.len() >= (rows - 1) * q_stride + rep * hd,
        "attend block: q length"
    );
    assert_eq!(out.len(), rows * rep * hd, "attend block: out length");
    assert!(
        scratch.len() >= block_scratch_len(hd),
        "attend block: scratch too small"
    );
    if !ops::attend_block(path, sources, vis, g, q, q_stride, rows, scratch, out) {
        block::<Scalar>(path, sources, vis, g, q, q_stride, rows, scratch, out);
    }
}

/// The two products of a tile, per instruction set. `s` rows are [`TILE`] floats apart;
/// key and value rows `stride` floats apart.
pub(crate) trait TileMath {
    /// `s[j·TILE + t] = scale · query(j)·k[t]` for `j < nq`, `t < tl`.
    #[allow(clippy::too_many_arguments)]
    fn scores<'q>(
        query: &impl Fn(usize) -> &'q [f32],
        nq: usize,
        hd: usize,
        k: &[f32],
        stride: usize,
        tl: usize,
        scale: f32,
        s: &mut [f32],
    );
    /// `out[j·hd..][..hd] += Σ_{t<tl} s[j·TILE + t] · v[t]` for `j < nq`.
    #[allow(clippy::too_many_arguments)]
    fn weighted_values(
        s: &[f32],
        nq: usize,
        hd: usize,
        v: &[f32],
        stride: usize,
        tl: usize,
        out: &mut [f32],
    );
    /// `dst = src` widened (same length).
    fn widen(src: &[f16], dst: &mut [f32]) {
        use half::slice::HalfFloatSliceExt;
        src.convert_to_f32_slice(dst);
    }
}

/// The scalar products (the reference path).
pub(crate) struct Scalar;

impl TileMath for Scalar {
    fn scores<'q>(
        query: &impl Fn(usize) -> &'q [f32],
        nq: usize,
        hd: usize,
        k: &[f32],
        stride: usize,
        tl: usize,
        scale: f32,
        s: &mut [f32],
    ) {
        for j in 0..nq {
            let qj = query(j);
            for t in 0..tl {
                let kt = &k[t * stride..t * stride + hd];
                s[j * TILE + t] = qj.iter().zip(kt).map(|(a, b)| a * b).sum::<f32>() * scale;
            }
        }
    }

    fn weighted_values(
        s: &[f32],
        nq: usize,
        hd: usize,
        v: &[f32],
        stride: usize,
        tl: usize,
        out: &mut [f32],
    ) {
        for (j, o) in out.chunks_exact_mut(hd).enumerate().take(nq) {
            for t in 0..tl {
                let p = s[j * TILE + t];
                for (x, &y) in o.iter_mut().zip(&v[t * stride..t * stride + hd]) {
                    *x += p * y;
                }
            }
        }
    }
}

/// The kernel body (see the module docs) with the tile products of `M`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn block<M: TileMath>(
    path: Path,
    sources: &[Source],
    vis: &Visibility,
    g: &BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    let (hd, rep) = (g.hd, g.rep);
    let nq = rows * rep;
    let (s, rest) = scratch.split_at_mut(MAX_QUERIES * TILE);
    let (m, rest) = rest.split_at_mut(MAX_QUERIES);
    let (l, rest) = rest.split_at_mut(MAX_QUERIES);
    let (kf, rest) = rest.split_at_mut(TILE * hd);
    let vf = &mut rest[..TILE * hd];
    m.fill(f32::NEG_INFINITY);
    l.fill(0.0);
    out.fill(0.0);
    let query = |j: usize| {
        let (i, h) = (j / rep, j % rep);
        &q[i * q_stride + h * hd..][..hd]
    };
    for src in sources {
        let (begin, end) = src.positions.seen_range(vis, rows);
        for t0 in (begin..end).step_by(TILE) {
            let tl = TILE.min(end - t0);
            let (k, v, stride) = tile::<M>(src, g, t0, tl, kf, vf);
            M::scores(&query, nq, hd, k, stride, tl, g.scale, s);
            let (lo, hi) = src.positions.bounds(t0, tl);
            for j in 0..nq {
                let i = j / rep;
                let row = &mut s[j * TILE..j * TILE + tl];
                let mut mx = f32::NEG_INFINITY;
                if vis.sees_all(i, lo, hi) {
                    mx = row.iter().fold(mx, |a, &b| a.max(b));
                } else {
                    for (t, x) in row.iter_mut().enumerate() {
                        if vis.sees(i, src.positions.at(t0 + t)) {
                            mx = mx.max(*x);
                        } else {
                            *x = f32::NEG_INFINITY;
                        }
                    }
                }
                if mx == f32::NEG_INFINITY {
                    row.fill(0.0);
                    continue;
                }
                let m_new = m[j].max(mx);
                row.iter_mut().for_each(|x| *x -= m_new);
                // exp(−∞) = 0 on every path: unseen slots weigh nothing.
                exp_inplace_on(path, row);
                let corr = if m[j] == f32::NEG_INFINITY {
                    0.0
                } else {
                    (m[j] - m_new).exp()
                };
                l[j] = l[j] * corr + row.iter().sum::<f32>();
                m[j] = m_new;
                if corr != 1.0 {
                    out[j * hd..(j + 1) * hd]
                        .iter_mut()
                        .for_each(|o| *o *= corr);
                }
            }
            M::weighted_values(s, nq, hd, v, stride, tl, out);
        }
    }
    for (o, &lj) in out.chunks_exact_mut(hd).zip(l.iter()) {
        let inv = if lj > 0.0 { 1.0 / lj } else { 0.0 };
        o.iter_mut().for_each(|x| *x *= inv);
    }
}

/// The head's keys and values of rows `t0..t0 + tl` of `src` as f32 rows `stride` apart: the
/// rows themselves for f32, widened into `kf`/`vf` for f16.
#[inline(always)]
fn tile<'a, M: TileMath>(
    src: &Source<'a>,
    g: &BlockGeom,
    t0: usize,
    tl: usize,
    kf: &'a mut [f32],
    vf: &'a mut [f32],
) -> (&'a [f32], &'a [f32], usize) {
    let (hd, w) = (g.hd, src.stride);
    let base = t0 * w + g.kv_head * hd;
    match src.kv {
        KvRows::F32 { keys, values } => {
            let end = base + (tl - 1) * w + hd;
            (&keys[base..end], &values[base..end], w)
        }
        KvRows::F16 { keys, values } => {
            for t in 0..tl {
                let r = base + t * w..base + t * w + hd;
                M::widen(&keys[r.clone()], &mut kf[t * hd..(t + 1) * hd]);
                M::widen(&values[r], &mut vf[t * hd..(t + 1) * hd]);
            }
            (&kf[..tl * hd], &vf[..tl * hd], hd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, alloc_count, assert_close};

    /// One source's rows as f32 (f16 ones widened), with their positions.
    struct Rows {
        k: Vec<f32>,
        v: Vec<f32>,
        pos: Vec<u64>,
    }

    /// f64 attention of one query over every position it sees in `rows`, KV head `j`.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        qv: &[f32],
        rows: &[Rows],
        w: usize,
        j: usize,
        vis: &Visibility,
        row: usize,
        scale: f32,
    ) -> Vec<f32> {
        let hd = qv.len();
        let mut seen = Vec::new();
        for r in rows {
            for (t, &p) in r.pos.iter().enumerate() {
                if vis.sees(row, p) {
                    let at = t * w + j * hd;
                    let sc = qv
                        .iter()
                        .zip(&r.k[at..at + hd])
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum::<f64>();
                    seen.push((sc * scale as f64, &r.v[at..at + hd]));
                }
            }
        }
        let m = seen.iter().map(|s| s.0).fold(f64::MIN, f64::max);
        let z: f64 = seen.iter().map(|s| (s.0 - m).exp()).sum();
        (0..hd)
            .map(|i| {
                seen.iter()
                    .map(|s| (s.0 - m).exp() / z * s.1[i] as f64)
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// Every path, f32 and f16 rows, against the f64 reference with the visibility applied by
    /// brute force: head dims that are and are not multiples of the 8- and 16-lane steps, GQA
    /// groups, partial blocks; one prefix source (a ring that has not wrapped) or a wrapped
    /// ring (slots out of order, sinks, a window shorter than the block) plus the chunk's own
    /// rows, with tiles some rows see none of.
    #[test]
    fn blocks_match_f64_on_every_path() {
        let mut r = Rng::new(77);
        for (kv_heads, rep, hd) in [(2, 1, 64), (2, 4, 16), (1, 2, 40), (3, 1, 13)] {
            let (heads, w) = (kv_heads * rep, kv_heads * hd);
            let most = MAX_QUERIES / rep;
            // (cached positions before the block, sinks, window, block rows)
            for (before, sinks, window, rows) in [
                (0, 0, 1000, 1),
                (0, 0, 1000, most),
                (6, 0, 1000, 3),
                (63, 0, 1000, 2),
                (149, 0, 1000, most),
                (200, 4, 70, most),
                (90, 2, 3, most),
                (10, 0, 1, 2),
            ] {
                // The ring as it holds positions 0..before: sinks, then the last window.
                let mut ring_pos: Vec<u64> = (0..before as u64)
                    .filter(|&p| p < sinks || p + window >= before as u64)
                    .collect();
                for i in (1..ring_pos.len()).rev() {
                    ring_pos.swap(i, (r.next_u64() % (i as u64 + 1)) as usize);
                }
                let mut make = |n: usize, pos: Vec<u64>| {
                    let k = r.normal_vec(n * w);
                    let v = r.normal_vec(n * w);
                    let (k16, v16): (Vec<f16>, Vec<f16>) = (
                        k.iter().map(|&x| f16::from_f32(x)).collect(),
                        v.iter().map(|&x| f16::from_f32(x)).collect(),
                    );
                    (k, v, k16, v16, pos)
                };
                let ring = make(ring_pos.len(), ring_pos.clone());
                let chunk = make(rows, (before as u64..(before + rows) as u64).collect());
                let q = r.normal_vec(rows * heads * hd);
                let vis = Visibility {
                    newest: before as u64,
                    sinks,
                    window,
                };
                let scale = 1.0 / (hd as f32).sqrt();
                let widen = |x: &[f16]| x.iter().map(|h| h.to_f32()).collect::<Vec<f32>>();
                let rows32 = [
                    Rows {
                        k: ring.0.clone(),
                        v: ring.1.clone(),
                        pos: ring.4.clone(),
                    },
                    Rows {
                        k: chunk.0.clone(),
                        v: chunk.1.clone(),
                        pos: chunk.4.clone(),
                    },
                ];
                let rows16 = [
                    Rows {
                        k: widen(&ring.2),
                        v: widen(&ring.3),
                        pos: ring.4.clone(),
                    },
                    Rows {
                        k: widen(&chunk.2),
                        v: widen(&chunk.3),
                        pos: chunk.4.clone(),
                    },
                ];
                let consecutive = Positions::Consecutive {
                    start: before as u64,
                    len: rows,
                };
                let src32 = [
                    Source {
                        kv: KvRows::F32 {
                            keys: &ring.0,
                            values: &ring.1,
                        },
                        stride: w,
                        positions: Positions::Listed(&ring.4),
                    },
                    Source {
                        kv: KvRows::F32 {
                            keys: &chunk.0,
                            values: &chunk.1,
                        },
                        stride: w,
                        positions: consecutive,
                    },
                ];
                let src16 = [
                    Source {
                        kv: KvRows::F16 {
                            keys: &ring.2,
                            values: &ring.3,
                        },
                        stride: w,
                        positions: Positions::Listed(&ring.4),
                    },
                    Source {
                        kv: KvRows::F16 {
                            keys: &chunk.2,
                            values: &chunk.3,
                        },
                        stride: w,
                        positions: consecutive,
                    },
                ];
                let mut scratch = vec![f32::NAN; block_scratch_len(hd)];
                for kv_head in 0..kv_heads {
                    let g = BlockGeom {
                        hd,
                        rep,
                        kv_head,
                        scale,
                    };
                    let qb = &q[kv_head * rep * hd..];
                    for path in Path::supported() {
                        for (sources, reference) in [(&src32, &rows32), (&src16, &rows16)] {
                            let mut out = vec![f32::NAN; rows * rep * hd];
                            let (n, ()) = alloc_count::count(|| {
                                attend_block_on(
                                    path,
                                    sources,
                                    &vis,
                                    &g,
                                    qb,
                                    heads * hd,
                                    rows,
                                    &mut scratch,
                                    &mut out,
                                )
                            });
                            assert_eq!(n, 0, "{path}: allocated");
                            for i in 0..rows {
                                for h in 0..rep {
                                    let qv = &qb[i * heads * hd + h * hd..][..hd];
                                    let want = naive(qv, reference, w, kv_head, &vis, i, scale);
                                    let got = &out[(i * rep + h) * hd..][..hd];
                                    assert_close(got, &want, 2e-5, 2e-5);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A row sees only its own past: changing a position a row must not see (a later one, or
    /// one that left its window) leaves that row's output bit-identical.
    #[test]
    fn unseen_positions_are_masked() {
        let mut r = Rng::new(78);
        let (hd, rows, n) = (16, 4, 73);
        let q = r.normal_vec(rows * hd);
        let k = r.normal_vec(n * hd);
        let mut v = r.normal_vec(n * hd);
        let g = BlockGeom {
            hd,
            rep: 1,
            kv_head: 0,
            scale: 0.25,
        };
        // Rows are positions 69..73 with a window of 60: row 0 sees 10..=69, row 3 sees 13..=72.
        let vis = Visibility {
            newest: 69,
            sinks: 0,
            window: 60,
        };
        let mut scratch = vec![0.0; block_scratch_len(hd)];
        let run = |v: &[f32], scratch: &mut [f32]| {
            let src = Source {
                kv: KvRows::F32 {
                    keys: &k,
                    values: v,
                },
                stride: hd,
                positions: Positions::Consecutive { start: 0, len: n },
            };
            let mut out = vec![0.0; rows * hd];
            attend_block(&[src], &vis, &g, &q, hd, rows, scratch, &mut out);
            out
        };
        let before = run(&v, &mut scratch);
        // Position 72 is seen by the last row only; position 10 by the first only.
        for p in [72, 10] {
            let mut w = v.clone();
            w[p * hd..(p + 1) * hd].iter_mut().for_each(|x| *x += 100.0);
            let after = run(&w, &mut scratch);
            let (seen_by, unseen) = if p == 72 {
                (rows - 1, 0..rows - 1)
            } else {
                (0, 1..rows)
            };
            for i in unseen {
                assert_eq!(
                    before[i * hd..(i + 1) * hd],
                    after[i * hd..(i + 1) * hd],
                    "row {i}, position {p}"
                );
            }
            assert_ne!(
                before[seen_by * hd..(seen_by + 1) * hd],
                after[seen_by * hd..(seen_by + 1) * hd]
            );
        }
        v[0] += 1.0;
        assert_eq!(
            before,
            run(&v, &mut scratch),
            "position 0 is outside every window"
        );
    }
}
