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
