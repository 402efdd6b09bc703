//! Causal attention of a block of consecutive query tokens over one KV head (prefill).
//!
//! Prefill over a deep cache ran [`super::attn`] once per token: every query re-read (and, for
//! f16, re-widened) all of the head's keys and values. Here up to [`MAX_QUERIES`] query vectors
//! (the `rep` query heads that share the KV head, for a few consecutive tokens) go through the
//! cache together, a tile of [`TILE`] slots at a time: each tile's rows are read and widened
//! once for the whole block, scores are a 4-query × 1-key product over the head dimension, and
//! the weighted sum of values keeps 4 queries × 16 output lanes in registers across the tile.
//! Softmax is online (running max and sum per query), in f32.
//!
//! The body is shared; the tile products ([`TileMath`]) are per instruction set: AVX2 on x86,
//! NEON on aarch64 (head dimensions that are multiples of 8), plain Rust otherwise (the
//! reference). Results
//! match [`super::attn::attend_heads`] per query within rounding (different summation order).

use super::act::exp_inplace_on;
use super::arch::ops;
use super::attn::{KvRows, f16};
use super::dispatch::{Path, selected_path};

/// Cache slots per tile.
pub const TILE: usize = 64;
/// Query vectors per block (rows × query heads per KV head).
pub const MAX_QUERIES: usize = 16;

/// Where a block's queries sit and what they see.
#[derive(Clone, Copy, Debug)]
pub struct BlockGeom {
    /// Head dimension.
    pub hd: usize,
    /// Query heads per KV head (GQA); a row's query vectors are `rep` consecutive heads.
    pub rep: usize,
    /// The KV head: its elements are `kv_head·hd..(kv_head + 1)·hd` of every cached row.
    pub kv_head: usize,
    /// Elements per cached row (`kv_heads·hd`).
    pub kv_width: usize,
    /// Slots the block's first row sees (≥ 1); row `i` sees slots `0..first + i`.
    pub first: usize,
    /// Score scale (1/√hd).
    pub scale: f32,
}

/// Scratch floats [`attend_causal_block`] needs for head dimension `hd`.
pub fn block_scratch_len(hd: usize) -> usize {
    MAX_QUERIES * TILE + 2 * MAX_QUERIES + 2 * TILE * hd
}

/// Whether the selected path runs blocks of head dimension `hd` with SIMD. Where it does not,
/// the scalar body runs (same results, but slower than [`super::attn`] token by token).
pub fn has_simd(hd: usize) -> bool {
    ops::attend_block_simd(selected_path(), hd)
}

/// Attention of `rows` consecutive query rows over the first slots of `kv` (slot = position:
/// a cache that has not wrapped). `q` holds the rows `q_stride` floats apart, each starting at
/// the KV head's first query head: query head `h < rep` of row `i` is
/// `q[i·q_stride + h·hd..][..hd]`. `out` is `[rows][rep·hd]`, dense.
pub fn attend_causal_block(
    kv: KvRows,
    g: &BlockGeom,
    q: &[f32],
    q_stride: usize,
    rows: usize,
    scratch: &mut [f32],
    out: &mut [f32],
) {
    attend_causal_block_on(selected_path(), kv, g, q, q_stride, rows, scratch, out);
}

/// [`attend_causal_block`] on a given path.
#[allow(clippy::too_many_arguments)]
pub fn attend_causal_block_on(
    path: Path,
    kv: KvRows,
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
    assert!(
        g.first > 0,
        "attend block: a row sees at least its own slot"
    );
    assert!(
        (g.kv_head + 1) * hd <= g.kv_width,
        "attend block: kv head outside the row"
    );
    let slots = g.first + rows - 1;
    let cached = match kv {
        KvRows::F32 { keys, values } => keys.len().min(values.len()),
        KvRows::F16 { keys, values } => keys.len().min(values.len()),
    };
    assert!(cached >= slots * g.kv_width, "attend block: kv length");
    assert!(
        q.len() >= (rows - 1) * q_stride + rep * hd,
        "attend block: q length"
    );
    assert_eq!(out.len(), rows * rep * hd, "attend block: out length");
    assert!(
        scratch.len() >= block_scratch_len(hd),
        "attend block: scratch too small"
    );
    if !ops::attend_block(path, kv, g, q, q_stride, rows, scratch, out) {
        block::<Scalar>(path, kv, g, q, q_stride, rows, scratch, out);
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
    kv: KvRows,
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
    let slots = g.first + rows - 1;
    for t0 in (0..slots).step_by(TILE) {
        let tl = TILE.min(slots - t0);
        let (k, v, stride) = tile::<M>(kv, g, t0, tl, kf, vf);
        M::scores(&query, nq, hd, k, stride, tl, g.scale, s);
        for j in 0..nq {
            let row = &mut s[j * TILE..(j + 1) * TILE];
            let seen = (g.first + j / rep).saturating_sub(t0).min(tl);
            row[seen..].fill(0.0);
            if seen == 0 {
                continue;
            }
            let seen_row = &mut row[..seen];
            let mx = seen_row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let m_new = m[j].max(mx);
            seen_row.iter_mut().for_each(|x| *x -= m_new);
            exp_inplace_on(path, seen_row);
            let corr = if m[j] == f32::NEG_INFINITY {
                0.0
            } else {
                (m[j] - m_new).exp()
            };
            l[j] = l[j] * corr + seen_row.iter().sum::<f32>();
            m[j] = m_new;
            if corr != 1.0 {
                out[j * hd..(j + 1) * hd]
                    .iter_mut()
                    .for_each(|o| *o *= corr);
            }
        }
        M::weighted_values(s, nq, hd, v, stride, tl, out);
    }
    for (o, &lj) in out.chunks_exact_mut(hd).zip(l.iter()) {
        let inv = 1.0 / lj;
        o.iter_mut().for_each(|x| *x *= inv);
    }
}

/// The head's keys and values of slots `t0..t0 + tl` as f32 rows `stride` apart: the cache
/// itself for f32, the rows widened into `kf`/`vf` for f16.
#[inline(always)]
fn tile<'a, M: TileMath>(
    kv: KvRows<'a>,
    g: &BlockGeom,
    t0: usize,
    tl: usize,
    kf: &'a mut [f32],
    vf: &'a mut [f32],
) -> (&'a [f32], &'a [f32], usize) {
    let (hd, w) = (g.hd, g.kv_width);
    let base = t0 * w + g.kv_head * hd;
    match kv {
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
    use crate::cpu::attn::f16;
    use crate::testutil::{Rng, alloc_count, assert_close};

    /// f64 causal attention of one query vector over slots `0..seen` of KV head `j`.
    fn naive(
        qv: &[f32],
        k: &[f32],
        v: &[f32],
        w: usize,
        j: usize,
        seen: usize,
        scale: f32,
    ) -> Vec<f32> {
        let hd = qv.len();
        let sc: Vec<f64> = (0..seen)
            .map(|s| {
                let kr = &k[s * w + j * hd..][..hd];
                qv.iter()
                    .zip(kr)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum::<f64>()
                    * scale as f64
            })
            .collect();
        let m = sc.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = sc.iter().map(|s| (s - m).exp()).sum();
        (0..hd)
            .map(|i| {
                let acc: f64 = (0..seen)
                    .map(|s| (sc[s] - m).exp() / z * v[s * w + j * hd + i] as f64)
                    .sum();
                acc as f32
            })
            .collect()
    }

    /// Every path, f32 and f16 caches, against the f64 reference: head dims that are and are
    /// not multiples of the 8- and 16-lane steps, GQA groups, partial blocks, blocks that
    /// start inside, at the end of and past the first tile.
    #[test]
    fn blocks_match_f64_on_every_path() {
        let mut r = Rng::new(77);
        for (kv_heads, rep, hd) in [(2, 1, 64), (2, 4, 16), (1, 2, 40), (3, 1, 13)] {
            let (heads, w) = (kv_heads * rep, kv_heads * hd);
            for (first, rows) in [
                (1, 1),
                (1, MAX_QUERIES / rep),
                (7, 3),
                (64, 2),
                (65, 1),
                (150, MAX_QUERIES / rep),
            ] {
                let slots = first + rows - 1;
                let q = r.normal_vec(rows * heads * hd);
                let k = r.normal_vec(slots * w);
                let v = r.normal_vec(slots * w);
                let (k16, v16): (Vec<f16>, Vec<f16>) = (
                    k.iter().map(|&x| f16::from_f32(x)).collect(),
                    v.iter().map(|&x| f16::from_f32(x)).collect(),
                );
                let widen = |x: &[f16]| x.iter().map(|h| h.to_f32()).collect::<Vec<f32>>();
                let (kw, vw) = (widen(&k16), widen(&v16));
                let scale = 1.0 / (hd as f32).sqrt();
                let mut scratch = vec![f32::NAN; block_scratch_len(hd)];
                for kv_head in 0..kv_heads {
                    let g = BlockGeom {
                        hd,
                        rep,
                        kv_head,
                        kv_width: w,
                        first,
                        scale,
                    };
                    let qb = &q[kv_head * rep * hd..];
                    for path in Path::supported() {
                        for (kv, kr, vr, tol) in [
                            (
                                KvRows::F32 {
                                    keys: &k,
                                    values: &v,
                                },
                                &k,
                                &v,
                                2e-5,
                            ),
                            (
                                KvRows::F16 {
                                    keys: &k16,
                                    values: &v16,
                                },
                                &kw,
                                &vw,
                                2e-5,
                            ),
                        ] {
                            let mut out = vec![f32::NAN; rows * rep * hd];
                            let (n, ()) = alloc_count::count(|| {
                                attend_causal_block_on(
                                    path,
                                    kv,
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
                                    let want = naive(qv, kr, vr, w, kv_head, first + i, scale);
                                    let got = &out[(i * rep + h) * hd..][..hd];
                                    assert_close(got, &want, tol, tol);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The rows of a block see only their own past: changing a slot a row must not see leaves
    /// that row's output bit-identical.
    #[test]
    fn later_slots_are_masked() {
        let mut r = Rng::new(78);
        let (hd, rows, first) = (16, 4, 70);
        let slots = first + rows - 1;
        let q = r.normal_vec(rows * hd);
        let k = r.normal_vec(slots * hd);
        let mut v = r.normal_vec(slots * hd);
        let g = BlockGeom {
            hd,
            rep: 1,
            kv_head: 0,
            kv_width: hd,
            first,
            scale: 0.25,
        };
        let mut scratch = vec![0.0; block_scratch_len(hd)];
        let run = |k: &[f32], v: &[f32], scratch: &mut [f32]| {
            let mut out = vec![0.0; rows * hd];
            attend_causal_block(
                KvRows::F32 { keys: k, values: v },
                &g,
                &q,
                hd,
                rows,
                scratch,
                &mut out,
            );
            out
        };
        let before = run(&k, &v, &mut scratch);
        // The last slot is seen by the last row only.
        v[(slots - 1) * hd..].iter_mut().for_each(|x| *x += 100.0);
        let after = run(&k, &v, &mut scratch);
        assert_eq!(before[..(rows - 1) * hd], after[..(rows - 1) * hd]);
        assert_ne!(before[(rows - 1) * hd..], after[(rows - 1) * hd..]);
    }
}
