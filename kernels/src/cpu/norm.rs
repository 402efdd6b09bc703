//! RMSNorm variants (SPEC.md §0.3, §0.4), all in f32.
//!
//! Slice lengths are asserted; callers validate shapes at load time.

use super::act::silu;
use super::dot::dot;

/// 1/sqrt(mean(x²) + eps). The sum of squares uses the canonical dot order.
#[inline]
fn inv_rms(x: &[f32], eps: f32) -> f32 {
    let mean = dot(x, x) / x.len() as f32;
    1.0 / (mean + eps).sqrt()
}

/// out = w ⊙ (x · 1/sqrt(mean(x²)+eps)) — HF `*RMSNorm` (normalize, then multiply by w).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    assert_eq!(w.len(), x.len(), "rms_norm: weight length");
    assert_eq!(out.len(), x.len(), "rms_norm: out length");
    let inv = inv_rms(x, eps);
    for ((o, &xi), &wi) in out.iter_mut().zip(x).zip(w) {
        *o = wi * (xi * inv);
    }
}

/// [`rms_norm`] in place: x ← w ⊙ x/rms(x).
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    assert_eq!(w.len(), x.len(), "rms_norm_inplace: weight length");
    let inv = inv_rms(x, eps);
    for (xi, &wi) in x.iter_mut().zip(w) {
        *xi = wi * (*xi * inv);
    }
}

/// out = x / sqrt(mean(x²)+eps), no weight.
pub fn rms_norm_no_weight(x: &[f32], eps: f32, out: &mut [f32]) {
    assert_eq!(out.len(), x.len(), "rms_norm_no_weight: out length");
    let inv = inv_rms(x, eps);
    for (o, &xi) in out.iter_mut().zip(x) {
        *o = xi * inv;
    }
}

/// Gated grouped RMSNorm, gate before normalize (SPEC.md §0.4, mamba_ssm `RMSNormGated`,
/// `norm_before_gate=False`): u = y ⊙ silu(z); each of `n_groups` contiguous groups of
/// `len / n_groups` is normalized by its own rms; out = w ⊙ u_normalized.
/// `n_groups = 1` is HF v4's whole-vector variant.
pub fn gated_rms_norm(y: &[f32], z: &[f32], w: &[f32], n_groups: usize, eps: f32, out: &mut [f32]) {
    let n = y.len();
    assert_eq!(z.len(), n, "gated_rms_norm: z length");
    assert_eq!(w.len(), n, "gated_rms_norm: weight length");
    assert_eq!(out.len(), n, "gated_rms_norm: out length");
    assert!(
        n_groups > 0 && n % n_groups == 0,
        "gated_rms_norm: {n} not divisible into {n_groups} groups"
    );
    // u is built in `out` first, then normalized in place: no scratch needed.
    for ((o, &yi), &zi) in out.iter_mut().zip(y).zip(z) {
        *o = yi * silu(zi);
    }
    let gs = n / n_groups;
    for (u, wg) in out.chunks_exact_mut(gs).zip(w.chunks_exact(gs)) {
        let inv = inv_rms(u, eps);
        for (ui, &wi) in u.iter_mut().zip(wg) {
            *ui = wi * (*ui * inv);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, assert_close};

    fn naive_rms(x: &[f32], w: &[f32], eps: f64) -> Vec<f32> {
        let ms: f64 = x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len() as f64;
        let inv = 1.0 / (ms + eps).sqrt();
        x.iter()
            .zip(w)
            .map(|(&v, &wi)| (v as f64 * inv * wi as f64) as f32)
            .collect()
    }

    #[test]
    fn rms_norm_hand_value() {
        // mean(3², 4²) = 12.5 → rms = √12.5; eps = 0.
        let mut out = [0.0; 2];
        rms_norm(&[3.0, 4.0], &[1.0, 2.0], 0.0, &mut out);
        let r = 12.5f32.sqrt();
        assert_close(&out, &[3.0 / r, 8.0 / r], 0.0, 2e-7);
    }

    #[test]
    fn rms_norm_variants_match_f64() {
        let mut r = Rng::new(11);
        for n in [1, 16, 768, 1001] {
            let x = r.normal_vec(n);
            let w = r.normal_vec(n);
            let mut out = vec![0.0; n];
            rms_norm(&x, &w, 1e-5, &mut out);
            assert_close(&out, &naive_rms(&x, &w, 1e-5), 1e-6, 1e-5);

            let mut inplace = x.clone();
            rms_norm_inplace(&mut inplace, &w, 1e-5);
            assert_eq!(inplace, out, "in-place is the same computation");

            let ones = vec![1.0; n];
            rms_norm_no_weight(&x, 1e-6, &mut out);
            let mut want = vec![0.0; n];
            rms_norm(&x, &ones, 1e-6, &mut want);
            assert_eq!(out, want);
        }
    }

    #[test]
    fn gated_rms_norm_matches_f64_per_group() {
        let mut r = Rng::new(12);
        let n = 64;
        let (y, z, w) = (r.normal_vec(n), r.normal_vec(n), r.normal_vec(n));
        for groups in [1, 4, 64] {
            let mut out = vec![0.0; n];
            gated_rms_norm(&y, &z, &w, groups, 1e-5, &mut out);
            let u: Vec<f32> = y
                .iter()
                .zip(&z)
                .map(|(&a, &b)| (a as f64 * b as f64 / (1.0 + (-b as f64).exp())) as f32)
                .collect();
            let gs = n / groups;
            let mut want = Vec::new();
            for g in 0..groups {
                want.extend(naive_rms(
                    &u[g * gs..(g + 1) * gs],
                    &w[g * gs..(g + 1) * gs],
                    1e-5,
                ));
            }
            assert_close(&out, &want, 1e-6, 1e-5);
        }
        // Grouping must matter when the groups' scales differ.
        let mut y2 = y.clone();
        y2[..32].iter_mut().for_each(|v| *v *= 10.0);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        gated_rms_norm(&y2, &z, &w, 1, 1e-5, &mut a);
        gated_rms_norm(&y2, &z, &w, 2, 1e-5, &mut b);
        assert!((a[40] - b[40]).abs() > 0.1 * b[40].abs());
    }

    #[test]
    #[should_panic(expected = "not divisible")]
    fn gated_rms_norm_rejects_bad_groups() {
        gated_rms_norm(&[0.0; 6], &[0.0; 6], &[0.0; 6], 4, 1e-5, &mut [0.0; 6]);
    }
}
