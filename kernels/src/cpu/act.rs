//! Elementwise activations with torch's f32 semantics (SPEC.md §0.2), softmax, and the fused
//! gate·up products of gated MLPs. `exp_inplace`, `silu_inplace`, `silu_mul` and `gelu_mul`
//! dispatch to SIMD (vector exp); the per-element functions and the rest are scalar.

use super::arch::ops;
use super::dispatch::{Path, selected_path};

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
    if x > SOFTPLUS_THRESHOLD {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Above this, softplus(x) is x (torch's default threshold; every path).
pub(crate) const SOFTPLUS_THRESHOLD: f32 = 20.0;

/// Exact erf GELU: 0.5·x·(1 + erf(x/√2)) (torch `gelu`, approximate='none').
#[inline]
pub fn gelu_erf(x: f32) -> f32 {
    x * 0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// x ← silu(x).
pub fn silu_inplace(x: &mut [f32]) {
    silu_inplace_on(selected_path(), x);
}

/// [`silu_inplace`] with the scalar reference.
pub fn silu_inplace_scalar(x: &mut [f32]) {
    silu_inplace_on(Path::Scalar, x);
}

/// [`silu_inplace`] on a given path (SIMD: the vector exp, ≤ 4 ulp from the scalar result).
pub fn silu_inplace_on(path: Path, x: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    if !ops::silu_inplace(path, x) {
        x.iter_mut().for_each(|v| *v = silu(*v));
    }
}

/// x ← e^x (SIMD paths: a polynomial exp within 1.2e-7 (1 ulp) relative of the exact value; see
/// tests/simd_ops.rs).
pub fn exp_inplace(x: &mut [f32]) {
    exp_inplace_on(selected_path(), x);
}

/// [`exp_inplace`] with `f32::exp`.
pub fn exp_inplace_scalar(x: &mut [f32]) {
    exp_inplace_on(Path::Scalar, x);
}

/// [`exp_inplace`] on a given path.
pub fn exp_inplace_on(path: Path, x: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    if !ops::exp_inplace(path, x) {
        x.iter_mut().for_each(|v| *v = v.exp());
    }
}

/// x ← softplus(x).
pub fn softplus_inplace(x: &mut [f32]) {
    softplus_inplace_on(selected_path(), x);
}

/// [`softplus_inplace`] with the scalar reference.
pub fn softplus_inplace_scalar(x: &mut [f32]) {
    softplus_inplace_on(Path::Scalar, x);
}

/// [`softplus_inplace`] on a given path (SIMD: the vector exp and a vector log1p, within 3.6e-7
/// relative of the exact value; tests/simd_ops.rs).
pub fn softplus_inplace_on(path: Path, x: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    if !ops::softplus_inplace(path, x) {
        x.iter_mut().for_each(|v| *v = softplus(*v));
    }
}

/// out = silu(gate) ⊙ up (SwiGLU).
pub fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    silu_mul_on(selected_path(), gate, up, out);
}

/// [`silu_mul`] with the scalar reference.
pub fn silu_mul_scalar(gate: &[f32], up: &[f32], out: &mut [f32]) {
    silu_mul_on(Path::Scalar, gate, up, out);
}

/// [`silu_mul`] on a given path.
pub fn silu_mul_on(path: Path, gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "silu_mul: lengths"
    );
    if ops::silu_mul(path, gate, up, out) {
        return;
    }
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu(g) * u;
    }
}

/// The SIMD exps' constants (x86 AVX2 and AVX-512, NEON: the same values, so every vector
/// width computes the same bits): ln 2 split in two for the Cody–Waite reduction, and Cephes'
/// polynomial for (e^r − 1 − r)/r² over |r| ≤ ln2/2, highest power first (only SIMD code reads
/// them).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) const EXP_LN2_HI: f32 = 0.693_359_4;
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) const EXP_LN2_LO: f32 = -2.121_944_4e-4;
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    0.166_666_65,
    0.5,
];

/// The SIMD softplus's log series: 2·atanh(s)/(2s) = Σ s^(2k)/(2k + 1) to s⁸, highest power
/// first (AVX2 and NEON read the same values).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) const LOG_ATANH_POLY: [f32; 5] = [1.0 / 9.0, 1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0];

/// Numerical Recipes' `erfcc` coefficients, highest power first: for a ≥ 0 and t = 1/(1 + a/2),
/// erfc(a) ≈ t·exp(−a² + P(t)) with P(t) = Σ ERFC[i]·t^(9−i), relative error < 1.2e-7. The
/// SIMD GELUs use it (the scalar one calls libm's erff).
#[allow(clippy::excessive_precision)] // the published digits, rounded to f32 by the compiler
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(crate) const ERFC: [f32; 10] = [
    0.170_872_77,
    -0.822_152_23,
    1.488_515_87,
    -1.135_203_98,
    0.278_868_07,
    -0.186_288_06,
    0.096_784_18,
    0.374_091_96,
    1.000_023_68,
    -1.265_512_23,
];

/// out = gelu_erf(gate) ⊙ up (GeGLU, Zamba2 MLP).
pub fn gelu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    gelu_mul_on(selected_path(), gate, up, out);
}

/// [`gelu_mul`] with the scalar reference (libm's erff).
pub fn gelu_mul_scalar(gate: &[f32], up: &[f32], out: &mut [f32]) {
    gelu_mul_on(Path::Scalar, gate, up, out);
}

/// [`gelu_mul`] on a given path (SIMD: erfc by a Chebyshev fit and the vector exp; see
/// tests/simd_ops.rs for the bound).
pub fn gelu_mul_on(path: Path, gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "gelu_mul: lengths"
    );
    if ops::gelu_mul(path, gate, up, out) {
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, assert_close};

    const X: [f32; 13] = [
        1.0, -0.5, 0.0, 2.0, -3.0, 0.1, 5.0, -10.0, 20.0, 20.5, -100.0, -20.0, 15.0,
    ];

    /// Values printed by torch 2.15 (float32, CPU) for the inputs `X`, kept as printed.
    #[test]
    #[allow(clippy::excessive_precision, clippy::approx_constant)]
    fn scalar_activations_match_torch() {
        let gelu = [
            0.841_344_7,
            -0.154_268_77,
            0.0,
            1.954_499_7,
            -0.004_050_225,
            0.053_982_783,
            4.999_999,
            -0.0,
            20.0,
            20.5,
            -0.0,
            -0.0,
            15.0,
        ];
        let silu_t = [
            0.731_058_6,
            -0.188_770_34,
            0.0,
            1.761_594_1,
            -0.142_277_61,
            0.052_497_92,
            4.966_535_6,
            -0.000_453_978_72,
            20.0,
            20.5,
            -0.0,
            -4.122_307_5e-8,
            14.999_994,
        ];
        let softplus_t = [
            1.313_261_6,
            0.474_077,
            0.693_147_2,
            2.126_928,
            0.048_587_352,
            0.744_396_7,
            5.006_715_3,
            4.539_890_2e-5,
            20.0,
            20.5,
            3.783_506e-44,
            2.061_153_7e-9,
            15.0,
        ];
        let sigmoid_t = [
            0.731_058_6,
            0.377_540_68,
            0.5,
            0.880_797,
            0.047_425_874,
            0.524_979_2,
            0.993_307_2,
            4.539_787e-5,
            1.0,
            1.0,
            0.0,
            2.061_153_7e-9,
            0.999_999_64,
        ];
        // 2 ulp relative: std exp / libm erf are not bit-identical to torch's SLEEF.
        let tol = 2.0 * f32::EPSILON;
        let map = |f: fn(f32) -> f32| X.map(f);
        // torch's AVX2 gelu uses an Abramowitz–Stegun erf (|err| ≤ 1.5e−7), so its values carry
        // up to 0.5·|x|·1.5e−7 absolute error (gelu(−3): torch −0.004050225, exact −0.004049694);
        // ours uses an exact erf. Hence atol 1e−6 against torch, and a tight f64 check below.
        assert_close(&map(gelu_erf), &gelu, 1e-6, tol);
        let exact = X.map(|x| (0.5 * x as f64 * (1.0 + libm::erf(x as f64 / 2f64.sqrt()))) as f32);
        // f32 cancellation in 1 + erf for x < 0 costs ≤ ulp(1)·0.5·|x| absolute.
        assert_close(&map(gelu_erf), &exact, 0.5 * 10.0 * f32::EPSILON, tol);
        assert_close(&map(silu), &silu_t, 0.0, tol);
        assert_close(&map(sigmoid), &sigmoid_t, 0.0, tol);
        // softplus(−100) = 3.78e−44 is subnormal: allow one subnormal step there.
        assert_close(&map(softplus), &softplus_t, 1e-45, tol);
    }

    #[test]
    fn softplus_threshold_is_20() {
        assert_eq!(softplus(20.000_002), 20.000_002, "identity above 20");
        assert_eq!(softplus(20.0), 20.0_f32.exp().ln_1p(), "log1p(exp) at 20");
    }

    #[test]
    fn softmax_matches_f64_and_is_stable() {
        let mut r = Rng::new(7);
        let x: Vec<f32> = r.normal_vec(37).iter().map(|v| v * 5.0).collect();
        let m = x.iter().fold(f64::MIN, |a, &b| a.max(b as f64));
        let s: f64 = x.iter().map(|&v| (v as f64 - m).exp()).sum();
        let want: Vec<f32> = x
            .iter()
            .map(|&v| ((v as f64 - m).exp() / s) as f32)
            .collect();
        let mut got = x.clone();
        softmax_inplace(&mut got);
        assert_close(&got, &want, 1e-9, 1e-5);

        let mut big = [1000.0f32, 1001.0, -f32::INFINITY];
        softmax_inplace(&mut big);
        let e = (-1.0f64).exp();
        assert_close(
            &big,
            &[(e / (1.0 + e)) as f32, (1.0 / (1.0 + e)) as f32, 0.0],
            0.0,
            1e-6,
        );
        softmax_inplace(&mut []);
    }

    #[test]
    fn gated_products_compose_scalars() {
        let mut r = Rng::new(8);
        let (g, u) = (r.normal_vec(19), r.normal_vec(19));
        let mut out = vec![0.0; 19];
        silu_mul_scalar(&g, &u, &mut out);
        for i in 0..19 {
            assert_eq!(out[i], silu(g[i]) * u[i]);
        }
        gelu_mul_scalar(&g, &u, &mut out);
        for i in 0..19 {
            assert_eq!(out[i], gelu_erf(g[i]) * u[i]);
        }
        let mut s = g.clone();
        silu_inplace_scalar(&mut s);
        softplus_inplace_scalar(&mut out);
        assert_eq!(s[3], silu(g[3]));
        assert_eq!(out[3], softplus(gelu_erf(g[3]) * u[3]));
    }

    #[test]
    #[should_panic(expected = "silu_mul: lengths")]
    fn silu_mul_checks_lengths() {
        silu_mul(&[1.0; 3], &[1.0; 2], &mut [0.0; 3]);
    }
}
