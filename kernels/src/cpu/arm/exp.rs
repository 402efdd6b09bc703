//! NEON vector exp, SiLU and GELU: the same algorithms and constants as the x86 versions
//! (`x86/avx2/exp.rs`: Cody–Waite reduction, Cephes polynomial, two-step 2^n scaling; erfc by
//! Numerical Recipes' Chebyshev fit).

use std::arch::aarch64::*;

use crate::cpu::act::{ERFC, EXP_LN2_HI, EXP_LN2_LO, EXP_POLY, LOG_ATANH_POLY, SOFTPLUS_THRESHOLD};

#[target_feature(enable = "neon")]
#[inline]
pub(super) fn exp4(x: float32x4_t) -> float32x4_t {
    // FMAX/FMIN return NaN when either input is NaN: NaN propagates.
    let x = vminq_f32(vdupq_n_f32(89.0), vmaxq_f32(vdupq_n_f32(-104.0), x));
    let n = vrndnq_f32(vmulq_n_f32(x, std::f32::consts::LOG2_E));
    let r = vfmsq_f32(x, n, vdupq_n_f32(EXP_LN2_HI));
    let r = vfmsq_f32(r, n, vdupq_n_f32(EXP_LN2_LO));
    let mut p = vdupq_n_f32(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = vfmaq_f32(vdupq_n_f32(*c), p, r);
    }
    let e = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), vdupq_n_f32(1.0));
    let ni = vcvtq_s32_f32(n);
    let n1 = vshrq_n_s32::<1>(ni);
    let n2 = vsubq_s32(ni, n1);
    let pow2 =
        |k: int32x4_t| vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(k, vdupq_n_s32(127))));
    vmulq_f32(vmulq_f32(e, pow2(n1)), pow2(n2))
}

/// torch's softplus as `x86/avx2/exp.rs`'s `softplus8`.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn softplus4(x: float32x4_t) -> float32x4_t {
    let (zero, one) = (vdupq_n_f32(0.0), vdupq_n_f32(1.0));
    let u = exp4(vnegq_f32(vabsq_f32(x)));
    let v = vaddq_f32(one, u);
    let big = vcgtq_f32(v, vdupq_n_f32(std::f32::consts::SQRT_2));
    let m = vbslq_f32(big, vmulq_n_f32(v, 0.5), v);
    let f = vsubq_f32(m, one);
    let sv = vdivq_f32(f, vaddq_f32(vdupq_n_f32(2.0), f));
    let z = vmulq_f32(sv, sv);
    let mut poly = vdupq_n_f32(LOG_ATANH_POLY[0]);
    for c in &LOG_ATANH_POLY[1..] {
        poly = vfmaq_f32(vdupq_n_f32(*c), poly, z);
    }
    let ln2 = vbslq_f32(big, vdupq_n_f32(std::f32::consts::LN_2), zero);
    let lg = vfmaq_f32(ln2, vaddq_f32(sv, sv), poly);
    let vm1 = vsubq_f32(v, one);
    let exact = vceqq_f32(vm1, zero);
    let l1p = vbslq_f32(exact, u, vmulq_f32(lg, vdivq_f32(u, vm1)));
    // FMAX returns NaN for a NaN input: NaN stays NaN.
    let sp = vaddq_f32(vmaxq_f32(x, zero), l1p);
    vbslq_f32(vcgtq_f32(x, vdupq_n_f32(SOFTPLUS_THRESHOLD)), x, sp)
}

/// x / (1 + e^(−x)).
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn silu4(x: float32x4_t) -> float32x4_t {
    vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0), exp4(vnegq_f32(x))))
}

/// Exact-erf GELU as `x86/avx2/exp.rs`'s `gelu8`.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn gelu4(x: float32x4_t) -> float32x4_t {
    let one = vdupq_n_f32(1.0);
    let a = vabsq_f32(vmulq_n_f32(x, std::f32::consts::FRAC_1_SQRT_2));
    let t = vdivq_f32(one, vfmaq_f32(one, a, vdupq_n_f32(0.5)));
    let mut p = vdupq_n_f32(ERFC[0]);
    for c in &ERFC[1..] {
        p = vfmaq_f32(vdupq_n_f32(*c), p, t);
    }
    let erfc = vmulq_f32(t, exp4(vfmsq_f32(p, a, a)));
    // FMIN returns NaN for a NaN input: NaN stays NaN.
    let xh = vminq_f32(vdupq_n_f32(20.0), x);
    let h = vmulq_f32(vmulq_n_f32(xh, 0.5), erfc);
    let pos = vcgeq_f32(x, vdupq_n_f32(0.0));
    vbslq_f32(pos, vsubq_f32(x, h), h)
}

/// `f` over `x` in place, 4 lanes at a time; the tail goes through a zero-padded buffer.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn map_inplace(x: &mut [f32], f: impl Fn(float32x4_t) -> float32x4_t) {
    let mut chunks = x.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: c holds exactly 4 floats.
        unsafe { vst1q_f32(c.as_mut_ptr(), f(vld1q_f32(c.as_ptr()))) };
    }
    let rest = chunks.into_remainder();
    if !rest.is_empty() {
        let mut t = [0.0f32; 4];
        let n = rest.len();
        t[..n].copy_from_slice(rest);
        // SAFETY: t holds 4 floats.
        unsafe { vst1q_f32(t.as_mut_ptr(), f(vld1q_f32(t.as_ptr()))) };
        rest.copy_from_slice(&t[..n]);
    }
}

#[target_feature(enable = "neon")]
pub(super) fn exp_inplace(x: &mut [f32]) {
    map_inplace(x, |v| exp4(v));
}

#[target_feature(enable = "neon")]
pub(super) fn softplus_inplace(x: &mut [f32]) {
    map_inplace(x, |v| softplus4(v));
}

#[target_feature(enable = "neon")]
pub(super) fn silu_inplace(x: &mut [f32]) {
    map_inplace(x, |v| silu4(v));
}

/// out = act(gate) ⊙ up, 4 lanes at a time; the tail through zero-padded buffers (the vector
/// formula for every element whatever the length).
#[target_feature(enable = "neon")]
#[inline]
fn gated(gate: &[f32], up: &[f32], out: &mut [f32], act: impl Fn(float32x4_t) -> float32x4_t) {
    assert!(gate.len() == out.len() && up.len() == out.len());
    let n = out.len();
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: i + 4 <= n = every slice's length.
        unsafe {
            let g = vld1q_f32(gate.as_ptr().add(i));
            let u = vld1q_f32(up.as_ptr().add(i));
            vst1q_f32(out.as_mut_ptr().add(i), vmulq_f32(act(g), u));
        }
        i += 4;
    }
    if i < n {
        let k = n - i;
        let (mut g, mut u, mut o) = ([0.0f32; 4], [0.0f32; 4], [0.0f32; 4]);
        g[..k].copy_from_slice(&gate[i..]);
        u[..k].copy_from_slice(&up[i..]);
        // SAFETY: g, u and o hold 4 floats each.
        unsafe {
            let v = vmulq_f32(act(vld1q_f32(g.as_ptr())), vld1q_f32(u.as_ptr()));
            vst1q_f32(o.as_mut_ptr(), v);
        }
        out[i..].copy_from_slice(&o[..k]);
    }
}

#[target_feature(enable = "neon")]
pub(super) fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    gated(gate, up, out, |g| silu4(g));
}

/// out = gelu(gate) ⊙ up.
#[target_feature(enable = "neon")]
pub(super) fn gelu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    gated(gate, up, out, |g| gelu4(g));
}
