//! RMSNorm variants (SPEC.md §0.3, §0.4), all in f32.
//!
//! Slice lengths are asserted; callers validate shapes at load time.

use super::arch::ops;
use super::dispatch::{Path, selected_path};
use super::dot::dot;

/// 1/sqrt(mean(x²) + eps). The scalar path sums the squares in the canonical dot order.
#[inline]
fn inv_rms(path: Path, x: &[f32], eps: f32) -> f32 {
    let mut ss = 0.0;
    if !ops::sum_squares_into(path, x, &mut ss) {
        ss = dot(x, x);
    }
    let mean = ss / x.len() as f32;
    1.0 / (mean + eps).sqrt()
}

/// out = w ⊙ (x · 1/sqrt(mean(x²)+eps)) — HF `*RMSNorm` (normalize, then multiply by w).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    rms_norm_on(selected_path(), x, w, eps, out);
}

/// [`rms_norm`] with the scalar reference.
pub fn rms_norm_scalar(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    rms_norm_on(Path::Scalar, x, w, eps, out);
}

/// [`rms_norm`] on a given path: SIMD sums the squares in vector lanes (the scaling is the
/// same operations as the reference).
pub fn rms_norm_on(path: Path, x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert_eq!(w.len(), x.len(), "rms_norm: weight length");
    assert_eq!(out.len(), x.len(), "rms_norm: out length");
    let inv = inv_rms(path, x, eps);
    if !ops::scale(path, x, Some(w), inv, out) {
        for ((o, &xi), &wi) in out.iter_mut().zip(x).zip(w) {
            *o = wi * (xi * inv);
        }
    }
}

/// [`rms_norm`] in place: x ← w ⊙ x/rms(x).
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    rms_norm_inplace_on(selected_path(), x, w, eps);
}

/// [`rms_norm_inplace`] on a given path.
pub fn rms_norm_inplace_on(path: Path, x: &mut [f32], w: &[f32], eps: f32) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert_eq!(w.len(), x.len(), "rms_norm_inplace: weight length");
    let inv = inv_rms(path, x, eps);
    scale_inplace(path, x, w, inv);
}

fn scale_inplace(path: Path, x: &mut [f32], w: &[f32], inv: f32) {
    if !ops::scale_inplace(path, x, w, inv) {
        for (xi, &wi) in x.iter_mut().zip(w) {
            *xi = wi * (*xi * inv);
        }
    }
}

/// out = x / sqrt(mean(x²)+eps), no weight.
pub fn rms_norm_no_weight(x: &[f32], eps: f32, out: &mut [f32]) {
    rms_norm_no_weight_on(selected_path(), x, eps, out);
}

/// [`rms_norm_no_weight`] on a given path.
pub fn rms_norm_no_weight_on(path: Path, x: &[f32], eps: f32, out: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert_eq!(out.len(), x.len(), "rms_norm_no_weight: out length");
    let inv = inv_rms(path, x, eps);
    if !ops::scale(path, x, None, inv, out) {
        for (o, &xi) in out.iter_mut().zip(x) {
            *o = xi * inv;
        }
    }
}

/// Gated grouped RMSNorm, gate before normalize (SPEC.md §0.4, mamba_ssm `RMSNormGated`,
/// `norm_before_gate=False`): u = y ⊙ silu(z); each of `n_groups` contiguous groups of
/// `len / n_groups` is normalized by its own rms; out = w ⊙ u_normalized.
/// `n_groups = 1` is HF v4's whole-vector variant.
pub fn gated_rms_norm(y: &[f32], z: &[f32], w: &[f32], n_groups: usize, eps: f32, out: &mut [f32]) {
    gated_rms_norm_on(selected_path(), y, z, w, n_groups, eps, out);
}

/// [`gated_rms_norm`] with the scalar reference.
pub fn gated_rms_norm_scalar(
    y: &[f32],
    z: &[f32],
    w: &[f32],
    n_groups: usize,
    eps: f32,
    out: &mut [f32],
) {
    gated_rms_norm_on(Path::Scalar, y, z, w, n_groups, eps, out);
}

/// [`gated_rms_norm`] on a given path (SIMD: vector SiLU and sums of squares).
pub fn gated_rms_norm_on(
    path: Path,
    y: &[f32],
    z: &[f32],
    w: &[f32],
    n_groups: usize,
    eps: f32,
    out: &mut [f32],
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    let n = y.len();
    assert_eq!(z.len(), n, "gated_rms_norm: z length");
    assert_eq!(w.len(), n, "gated_rms_norm: weight length");
    assert_eq!(out.len(), n, "gated_rms_norm: out length");
    assert!(
        n_groups > 0 && n.is_multiple_of(n_groups),
        "gated_rms_norm: {n} not divisible into {n_groups} groups"
    );
    // u = silu(z) ⊙ y is built in `out` first, then normalized in place: no scratch needed.
    super::act::silu_mul_on(path, z, y, out);
    let gs = n / n_groups;
    for (u, wg) in out.chunks_exact_mut(gs).zip(w.chunks_exact(gs)) {
        let inv = inv_rms(path, u, eps);
        scale_inplace(path, u, wg, inv);
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
