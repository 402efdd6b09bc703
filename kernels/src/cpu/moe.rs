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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::assert_close;

    #[test]
    fn picks_top_k_of_full_softmax_without_renormalizing() {
        let logits = [0.0f32, 2.0, 1.0, -1.0];
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        let p = |i: usize| ((logits[i] as f64).exp() / z) as f32;
        let (mut scratch, mut idx, mut w) = ([0.0; 4], [9; 2], [0.0; 2]);
        top_k_softmax_no_renorm(&logits, 2, &mut scratch, &mut idx, &mut w);
        assert_eq!(idx, [1, 2]);
        assert_close(&w, &[p(1), p(2)], 0.0, 1e-6);
        assert!(w[0] + w[1] < 0.95, "weights are not renormalized");
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let logits = [1.0f32, 3.0, 3.0, 1.0, 3.0];
        let (mut scratch, mut idx, mut w) = ([0.0; 5], [0; 4], [0.0; 4]);
        top_k_softmax_no_renorm(&logits, 4, &mut scratch, &mut idx, &mut w);
        assert_eq!(idx, [1, 2, 4, 0]);
        assert_eq!(w[0], w[1]);
        assert_eq!(w[3], scratch[3]);
    }

    #[test]
    fn k_equal_to_e_sorts_everything() {
        let logits = [0.5f32, -2.0, 4.0];
        let (mut scratch, mut idx, mut w) = ([0.0; 3], [0; 3], [0.0; 3]);
        top_k_softmax_no_renorm(&logits, 3, &mut scratch, &mut idx, &mut w);
        assert_eq!(idx, [2, 0, 1]);
        assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    #[should_panic(expected = "k=3 > experts=2")]
    fn k_above_e_is_rejected() {
        top_k_softmax_no_renorm(&[0.0; 2], 3, &mut [0.0; 2], &mut [0; 3], &mut [0.0; 3]);
    }
}
