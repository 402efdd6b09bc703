//! Attention of one query token over cached key/value slots, with GQA, f32 softmax.
//!
//! `keys`/`values` are `[n_slots, kv_heads·hd]` (one row per cached position). Slot order does
//! not matter (softmax is permutation-invariant); the caller passes only valid slots (causal
//! masking and ring-buffer bookkeeping are the caller's). Heads are independent: `attend_heads`
//! computes a head range, for threading.
//!
//! Cached rows are f32 or f16 ([`KvElem`]): an f16 cache holds half the bytes, which is what
//! attention over a deep cache streams per token; every product and sum is still f32.

use std::ops::Range;

pub use half::f16;

use super::act::softmax_inplace;
use super::arch::ops;
use super::dispatch::{Path, selected_path};
use super::dot::dot;

/// The element type of a KV cache: `f32`, or `f16` (rounded once, when the row is cached).
pub trait KvElem: Copy + Send + Sync + sealed::Sealed + 'static {
    fn to_f32(self) -> f32;
    /// Rounds `src` into `dst` (same length).
    fn store(dst: &mut [Self], src: &[f32]);
    /// q·k in the scalar reference's order.
    #[doc(hidden)]
    fn dot(q: &[f32], k: &[Self]) -> f32;
    /// `keys` and `values` as the rows of their type.
    #[doc(hidden)]
    fn rows<'a>(keys: &'a [Self], values: &'a [Self]) -> KvRows<'a>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
}

impl KvElem for f32 {
    fn to_f32(self) -> f32 {
        self
    }
    fn store(dst: &mut [f32], src: &[f32]) {
        dst.copy_from_slice(src);
    }
    fn dot(q: &[f32], k: &[f32]) -> f32 {
        dot(q, k)
    }
    fn rows<'a>(keys: &'a [f32], values: &'a [f32]) -> KvRows<'a> {
        KvRows::F32 { keys, values }
    }
}

impl KvElem for f16 {
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    fn store(dst: &mut [f16], src: &[f32]) {
        use half::slice::HalfFloatSliceExt;
        dst.convert_from_f32_slice(src);
    }
    fn dot(q: &[f32], k: &[f16]) -> f32 {
        q.iter().zip(k).map(|(a, b)| a * b.to_f32()).sum()
    }
    fn rows<'a>(keys: &'a [f16], values: &'a [f16]) -> KvRows<'a> {
        KvRows::F16 { keys, values }
    }
}

/// A KV cache's keys and values, `[n_slots, kv_heads·hd]` each, in their element type.
#[derive(Clone, Copy, Debug)]
pub enum KvRows<'a> {
    F32 { keys: &'a [f32], values: &'a [f32] },
    F16 { keys: &'a [f16], values: &'a [f16] },
}

impl KvRows<'_> {
    /// [`attend_heads`] over these rows.
    #[allow(clippy::too_many_arguments)]
    pub fn attend_heads(
        self,
        q: &[f32],
        n_slots: usize,
        heads: usize,
        kv_heads: usize,
        hd: usize,
        scale: f32,
        scores_scratch: &mut [f32],
        head_range: Range<usize>,
        out: &mut [f32],
    ) {
        match self {
            KvRows::F32 { keys, values } => attend_heads(
                q,
                keys,
                values,
                n_slots,
                heads,
                kv_heads,
                hd,
                scale,
                scores_scratch,
                head_range,
                out,
            ),
            KvRows::F16 { keys, values } => attend_heads(
                q,
                keys,
                values,
                n_slots,
                heads,
                kv_heads,
                hd,
                scale,
                scores_scratch,
                head_range,
                out,
            ),
        }
    }
}

/// out[h] = Σ_s softmax_s(scale · q[h]·k[s, h/rep]) · v[s, h/rep] for all `heads`, where
/// rep = heads / kv_heads (kv head j serves query heads j·rep .. j·rep+rep−1).
/// `q`, `out`: `[heads·hd]`; `scores_scratch.len() >= n_slots`. With `n_slots == 0` the output
/// is all zeros.
#[allow(clippy::too_many_arguments)]
pub fn attend<E: KvElem>(
    q: &[f32],
    keys: &[E],
    values: &[E],
    n_slots: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    scale: f32,
    scores_scratch: &mut [f32],
    out: &mut [f32],
) {
    attend_heads(
        q,
        keys,
        values,
        n_slots,
        heads,
        kv_heads,
        hd,
        scale,
        scores_scratch,
        0..heads,
        out,
    );
}

/// [`attend`] for the query heads in `head_range` only: `q` is still the full `[heads·hd]`
/// query; `out` is `[head_range.len()·hd]` (just those heads).
#[allow(clippy::too_many_arguments)]
pub fn attend_heads<E: KvElem>(
    q: &[f32],
    keys: &[E],
    values: &[E],
    n_slots: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    scale: f32,
    scores_scratch: &mut [f32],
    head_range: Range<usize>,
    out: &mut [f32],
) {
    attend_heads_on(
        selected_path(),
        q,
        keys,
        values,
        n_slots,
        heads,
        kv_heads,
        hd,
        scale,
        scores_scratch,
        head_range,
        out,
    );
}

/// [`attend_heads`] with the scalar reference (scores, softmax, weighted sum).
#[allow(clippy::too_many_arguments)]
pub fn attend_heads_scalar<E: KvElem>(
    q: &[f32],
    keys: &[E],
    values: &[E],
    n_slots: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    scale: f32,
    scores_scratch: &mut [f32],
    head_range: Range<usize>,
    out: &mut [f32],
) {
    attend_heads_on(
        Path::Scalar,
        q,
        keys,
        values,
        n_slots,
        heads,
        kv_heads,
        hd,
        scale,
        scores_scratch,
        head_range,
        out,
    );
}

/// [`attend_heads`] on a given path. SIMD: one pass with an online softmax over tiles of 8
/// slots (the scratch is not used, but its size is still checked so that every path accepts
/// the same inputs).
#[allow(clippy::too_many_arguments)]
pub fn attend_heads_on<E: KvElem>(
    path: Path,
    q: &[f32],
    keys: &[E],
    values: &[E],
    n_slots: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    scale: f32,
    scores_scratch: &mut [f32],
    head_range: Range<usize>,
    out: &mut [f32],
) {
    assert!(
        kv_heads > 0 && heads.is_multiple_of(kv_heads),
        "attend: heads {heads} not a multiple of kv_heads {kv_heads}"
    );
    assert_eq!(q.len(), heads * hd, "attend: q length");
    let row = kv_heads * hd;
    assert!(
        keys.len() >= n_slots * row && values.len() >= n_slots * row,
        "attend: kv length"
    );
    assert!(
        scores_scratch.len() >= n_slots,
        "attend: scores scratch too small"
    );
    assert!(
        head_range.start <= head_range.end && head_range.end <= heads,
        "attend: head range"
    );
    assert_eq!(out.len(), head_range.len() * hd, "attend: out length");
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    let simd = match E::rows(keys, values) {
        KvRows::F32 { keys, values } => ops::attend(
            path,
            q,
            keys,
            values,
            n_slots,
            heads,
            kv_heads,
            hd,
            scale,
            head_range.clone(),
            out,
        ),
        KvRows::F16 { keys, values } => ops::attend_f16(
            path,
            q,
            keys,
            values,
            n_slots,
            heads,
            kv_heads,
            hd,
            scale,
            head_range.clone(),
            out,
        ),
    };
    if simd {
        return;
    }
    let rep = heads / kv_heads;
    let scores = &mut scores_scratch[..n_slots];
    for (h, o) in head_range.zip(out.chunks_exact_mut(hd)) {
        let kvh = h / rep;
        let qh = &q[h * hd..(h + 1) * hd];
        for (s, sc) in scores.iter_mut().enumerate() {
            let k = &keys[s * row + kvh * hd..s * row + (kvh + 1) * hd];
            *sc = E::dot(qh, k) * scale;
        }
        softmax_inplace(scores);
        o.fill(0.0);
        for (s, &p) in scores.iter().enumerate() {
            let v = &values[s * row + kvh * hd..s * row + (kvh + 1) * hd];
            for (oi, &vi) in o.iter_mut().zip(v) {
                *oi += p * vi.to_f32();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, alloc_count, assert_close};

    /// Naive f64 attention with GQA.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        slots: usize,
        heads: usize,
        kvh: usize,
        hd: usize,
        scale: f32,
    ) -> Vec<f32> {
        let rep = heads / kvh;
        let mut out = vec![0.0; heads * hd];
        for h in 0..heads {
            let j = h / rep;
            let sc: Vec<f64> = (0..slots)
                .map(|s| {
                    (0..hd)
                        .map(|i| q[h * hd + i] as f64 * k[(s * kvh + j) * hd + i] as f64)
                        .sum::<f64>()
                        * scale as f64
                })
                .collect();
            let m = sc.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = sc.iter().map(|s| (s - m).exp()).sum();
            for i in 0..hd {
                let acc: f64 = (0..slots)
                    .map(|s| (sc[s] - m).exp() / z * v[(s * kvh + j) * hd + i] as f64)
                    .sum();
                out[h * hd + i] = acc as f32;
            }
        }
        out
    }

    #[test]
    fn gqa_matches_f64_and_head_ranges_are_exact() {
        let mut r = Rng::new(51);
        for (heads, kvh, hd, slots) in [(4, 2, 8, 5), (8, 1, 16, 33), (2, 2, 4, 1)] {
            let q = r.normal_vec(heads * hd);
            let k = r.normal_vec(slots * kvh * hd);
            let v = r.normal_vec(slots * kvh * hd);
            let scale = 1.0 / (hd as f32).sqrt();
            let mut scratch = vec![0.0; slots + 3];
            let mut out = vec![f32::NAN; heads * hd];
            let (n, ()) = alloc_count::count(|| {
                attend(
                    &q,
                    &k,
                    &v,
                    slots,
                    heads,
                    kvh,
                    hd,
                    scale,
                    &mut scratch,
                    &mut out,
                )
            });
            assert_eq!(n, 0, "attend allocated");
            assert_close(
                &out,
                &naive(&q, &k, &v, slots, heads, kvh, hd, scale),
                1e-6,
                1e-5,
            );

            let mut part = vec![f32::NAN; (heads - 1) * hd];
            let range = 1..heads;
            attend_heads(
                &q,
                &k,
                &v,
                slots,
                heads,
                kvh,
                hd,
                scale,
                &mut scratch,
                range,
                &mut part,
            );
            assert_eq!(part, out[hd..]);
        }
    }

    #[test]
    fn one_slot_returns_its_value_and_zero_slots_return_zero() {
        let mut r = Rng::new(52);
        let (q, k, v) = (r.normal_vec(8), r.normal_vec(4), r.normal_vec(4));
        let mut out = vec![0.0; 8];
        attend(&q, &k, &v, 1, 2, 1, 4, 0.5, &mut [0.0], &mut out);
        assert_eq!(out[..4], v[..]);
        assert_eq!(out[4..], v[..]);
        attend::<f32>(&q, &[], &[], 0, 2, 1, 4, 0.5, &mut [], &mut out);
        assert_eq!(out, [0.0; 8]);
    }

    #[test]
    fn slot_order_does_not_matter() {
        let mut r = Rng::new(53);
        let (heads, kvh, hd, slots) = (2, 1, 8, 6);
        let q = r.normal_vec(heads * hd);
        let k = r.normal_vec(slots * hd);
        let v = r.normal_vec(slots * hd);
        let order = [3, 0, 5, 1, 4, 2];
        let shuffle = |m: &[f32]| -> Vec<f32> {
            order
                .iter()
                .flat_map(|&s| m[s * hd..(s + 1) * hd].to_vec())
                .collect()
        };
        let (ks, vs) = (shuffle(&k), shuffle(&v));
        let (mut a, mut b) = (vec![0.0; heads * hd], vec![0.0; heads * hd]);
        let mut sc = [0.0; 6];
        attend(&q, &k, &v, slots, heads, kvh, hd, 0.3, &mut sc, &mut a);
        attend(&q, &ks, &vs, slots, heads, kvh, hd, 0.3, &mut sc, &mut b);
        // Only the summation order changes: f32 rounding, 1e-6.
        assert_close(&a, &b, 1e-6, 1e-6);
    }

    #[test]
    #[should_panic(expected = "scores scratch too small")]
    fn small_scratch_is_rejected() {
        attend(
            &[0.0; 4],
            &[0.0; 8],
            &[0.0; 8],
            2,
            1,
            1,
            4,
            1.0,
            &mut [0.0],
            &mut [0.0; 4],
        );
    }
}
