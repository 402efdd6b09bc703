//! Mixture-of-experts routing.

use super::act::softmax_inplace;

/// Jamba routing (SPEC.md §3.6): p = softmax(logits) over all E experts, then the k largest
/// p in descending order, **not** renormalized. Ties go to the lower expert index.
/// `probs_scratch.len() >= E` (left holding p); `out_idx`, `out_w` have length k, `k <= E`.
pub fn top_k_softmax_no_renorm(
    logits: &[f32],
    k: usize,
    probs_scratch: &mut [f32],
    out_idx: &mut [usize],
    out_w: &mut [f32],
) {
    let e = logits.len();
    assert!(k <= e, "top_k: k={k} > experts={e}");
    assert!(
        out_idx.len() == k && out_w.len() == k,
        "top_k: output lengths"
    );
    assert!(probs_scratch.len() >= e, "top_k: probs scratch too small");
    let p = &mut probs_scratch[..e];
    p.copy_from_slice(logits);
    softmax_inplace(p);
    for j in 0..k {
        // Strict `>` keeps the first (lowest-index) of equal values; NaN never wins.
        let mut best: Option<usize> = None;
        for (i, &v) in p.iter().enumerate() {
            if out_idx[..j].contains(&i) {
                continue;
            }
            if best.is_none_or(|b| v > p[b]) {
                best = Some(i);
            }
        }
        let b = best.expect("k <= E leaves a candidate");
        out_idx[j] = b;
        out_w[j] = p[b];
    }
}
