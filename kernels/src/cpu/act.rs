//! Elementwise activations with torch's f32 semantics (SPEC.md §0.2), softmax, and the fused
//! gate·up products of gated MLPs.

/// 1/(1+e^(−x)).
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// x·sigmoid(x), computed as torch does: x / (1 + e^(−x)).
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// torch `softplus` (beta 1, threshold 20): x if x > 20, else log1p(exp(x)).
#[inline]
pub fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

/// Exact erf GELU: 0.5·x·(1 + erf(x/√2)) (torch `gelu`, approximate='none').
#[inline]
pub fn gelu_erf(x: f32) -> f32 {
    x * 0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// x ← silu(x).
pub fn silu_inplace(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = silu(*v));
}

/// x ← softplus(x).
pub fn softplus_inplace(x: &mut [f32]) {
    x.iter_mut().for_each(|v| *v = softplus(*v));
}

/// out = silu(gate) ⊙ up (SwiGLU).
pub fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "silu_mul: lengths"
    );
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu(g) * u;
    }
}

/// out = gelu_erf(gate) ⊙ up (GeGLU, Zamba2 MLP).
pub fn gelu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "gelu_mul: lengths"
    );
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = gelu_erf(g) * u;
    }
}

/// Numerically stable softmax in place: e^(x−max) / Σ. Empty input is a no-op; a slice of
/// all −inf yields NaN (as torch does).
pub fn softmax_inplace(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    x.iter_mut().for_each(|v| *v *= inv);
}
