//! Attention of one query token over cached key/value slots, with GQA, f32 softmax.
//!
//! `keys`/`values` are `[n_slots, kv_heads·hd]` (one row per cached position). Slot order does
//! not matter (softmax is permutation-invariant); the caller passes only valid slots (causal
//! masking and ring-buffer bookkeeping are the caller's). Heads are independent: `attend_heads`
//! computes a head range, for threading.

use std::ops::Range;

use super::act::softmax_inplace;
use super::dot::dot;

/// out[h] = Σ_s softmax_s(scale · q[h]·k[s, h/rep]) · v[s, h/rep] for all `heads`, where
/// rep = heads / kv_heads (kv head j serves query heads j·rep .. j·rep+rep−1).
/// `q`, `out`: `[heads·hd]`; `scores_scratch.len() >= n_slots`. With `n_slots == 0` the output
/// is all zeros.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
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
pub fn attend_heads(
    q: &[f32],
    keys: &[f32],
    values: &[f32],
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
        kv_heads > 0 && heads % kv_heads == 0,
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
    let rep = heads / kv_heads;
    let scores = &mut scores_scratch[..n_slots];
    for (h, o) in head_range.zip(out.chunks_exact_mut(hd)) {
        let kvh = h / rep;
        let qh = &q[h * hd..(h + 1) * hd];
        for (s, sc) in scores.iter_mut().enumerate() {
            let k = &keys[s * row + kvh * hd..s * row + (kvh + 1) * hd];
            *sc = dot(qh, k) * scale;
        }
        softmax_inplace(scores);
        o.fill(0.0);
        for (s, &p) in scores.iter().enumerate() {
            let v = &values[s * row + kvh * hd..s * row + (kvh + 1) * hd];
            for (oi, &vi) in o.iter_mut().zip(v) {
                *oi += p * vi;
            }
        }
    }
}
