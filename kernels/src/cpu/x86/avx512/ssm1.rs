//! Mamba-1 selective-scan step with 512-bit vectors for N = 16 (every Mamba-1 model): one
//! channel's state is one vector. The state update is the AVX2 step's operations lane for lane
//! (the same vector exp, then mul, mul, add), so states are bit-identical to it; the C
//! contractions of 16 channels are summed together by one transpose-and-add tree and y is
//! stored 16 channels at a time.

use std::arch::x86_64::*;

use super::Avx512;
use crate::cpu::act::{EXP_LN2_HI, EXP_LN2_LO, EXP_POLY};

/// [`crate::cpu::x86::avx2::exp`]'s exp8 on 16 lanes: the same constants and operations.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn exp16(x: __m512) -> __m512 {
    // max/min return their second operand when one is NaN: x last, so NaN propagates.
    let x = _mm512_min_ps(
        _mm512_set1_ps(89.0),
        _mm512_max_ps(_mm512_set1_ps(-104.0), x),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
    let mut p = _mm512_set1_ps(EXP_POLY[0]);
    for c in &EXP_POLY[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(*c));
    }
    let r2 = _mm512_mul_ps(r, r);
    let e = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1.0));
    let ni = _mm512_cvtps_epi32(n);
    let n1 = _mm512_srai_epi32::<1>(ni);
    let n2 = _mm512_sub_epi32(ni, n1);
    let pow2 = |k: __m512i| {
        _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            k,
            _mm512_set1_epi32(127),
        )))
    };
    _mm512_mul_ps(_mm512_mul_ps(e, pow2(n1)), pow2(n2))
}

/// Lane j = Σ of the 16 lanes of `v[j]`: in-lane unpacks and shuffles, then 128-bit lane
/// shuffles (45 operations for 16 sums).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn hsum16(v: &[__m512; 16]) -> __m512 {
    // Per 128-bit lane: [x0 + x2, y0 + y2, x1 + x3, y1 + y3].
    let pair = |x, y| _mm512_add_ps(_mm512_unpacklo_ps(x, y), _mm512_unpackhi_ps(x, y));
    // Per 128-bit lane: that lane's partial sums of four vectors.
    let quad = |a, b| {
        _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(a, b),
            _mm512_shuffle_ps::<0xEE>(a, b),
        )
    };
    // 128-bit lanes [a0 + a1, a2 + a3, b0 + b1, b2 + b3].
    let lanes = |a, b| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(a, b),
            _mm512_shuffle_f32x4::<0xDD>(a, b),
        )
    };
    let q: [__m512; 4] = std::array::from_fn(|k| {
        quad(
            pair(v[4 * k], v[4 * k + 1]),
            pair(v[4 * k + 2], v[4 * k + 3]),
        )
    });
    lanes(lanes(q[0], q[1]), lanes(q[2], q[3]))
}

/// `false` unless N = 16. Shapes as [`crate::cpu::ssm::ssm_step_mamba1`] checked them.
#[allow(clippy::too_many_arguments)]
pub(in crate::cpu::x86) fn ssm_mamba1(
    _: Avx512,
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) -> bool {
    if b.len() != 16 {
        return false;
    }
    // SAFETY: the `Avx512` token proves the features; the caller checked state and a (16 per
    // channel), dt, d and y (one per channel), b and c (16).
    unsafe { step(state, x, dt, a, b, c, d, y) };
    true
}

/// # Safety
/// AVX-512 present; lengths as [`ssm_mamba1`] states.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn step(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) {
    let ch = x.len();
    // SAFETY (all pointer arithmetic): channel k < ch has 16 floats of state and a at 16k
    // and one of x, dt, d, y at k; b and c hold 16.
    unsafe {
        let (bv, cv) = (_mm512_loadu_ps(b.as_ptr()), _mm512_loadu_ps(c.as_ptr()));
        let mut prod = [_mm512_setzero_ps(); 16];
        let mut i = 0;
        while i < ch {
            let m = (ch - i).min(16);
            for (j, pj) in prod[..m].iter_mut().enumerate() {
                let k = i + j;
                let vdt = _mm512_set1_ps(*dt.get_unchecked(k));
                let e = exp16(_mm512_mul_ps(vdt, _mm512_loadu_ps(a.as_ptr().add(16 * k))));
                let dtb = _mm512_mul_ps(vdt, bv);
                let hp = state.as_mut_ptr().add(16 * k);
                let hv = _mm512_add_ps(
                    _mm512_mul_ps(e, _mm512_loadu_ps(hp)),
                    _mm512_mul_ps(dtb, _mm512_set1_ps(*x.get_unchecked(k))),
                );
                _mm512_storeu_ps(hp, hv);
                *pj = _mm512_mul_ps(hv, cv);
            }
            // Lanes past m hold the previous group's products: computed, never stored.
            let mask: __mmask16 = if m == 16 { !0 } else { (1 << m) - 1 };
            let sum = hsum16(&prod);
            let xs = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i));
            let ds = _mm512_maskz_loadu_ps(mask, d.as_ptr().add(i));
            let out = _mm512_add_ps(sum, _mm512_mul_ps(ds, xs));
            _mm512_mask_storeu_ps(y.as_mut_ptr().add(i), mask, out);
            i += 16;
        }
    }
}
