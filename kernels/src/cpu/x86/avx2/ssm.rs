//! Selective-scan decode steps. The state update uses the scalar reference's operations in
//! the same order (mul, mul, add — no FMA), so Mamba-2 states are bit-identical to it and
//! Mamba-1 states differ only by the vector exp; the C contraction sums in 8 lanes.

use std::arch::x86_64::*;

use super::exp::exp8;
use super::hsum4;
use crate::cpu::ssm::{Mamba2Dims, mamba2_rows};

/// One state row of N: s = s·da + dtb·xv (dtb = dt·B, formed once per head); returns Σ s·c.
/// Four named accumulators, 32 floats per pass: an accumulator array indexed by the loop
/// counter stayed in memory, each FMA waiting on the store before it (1.8× slower, measured).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn row_m2(s: &mut [f32], dtb: &[f32], c: &[f32], da: f32, xv: f32) -> f32 {
    let n = s.len();
    let (vda, vx) = (_mm256_set1_ps(da), _mm256_set1_ps(xv));
    // s[k..k + 8] updated and stored; returns acc + s·c there.
    let mut upd = |k: usize, acc: __m256| {
        // SAFETY: k + 8 <= n = s.len() = dtb.len() = c.len() (the loops below, the caller).
        unsafe {
            let sp = s.as_mut_ptr().add(k);
            let sv = _mm256_add_ps(
                _mm256_mul_ps(_mm256_loadu_ps(sp), vda),
                _mm256_mul_ps(_mm256_loadu_ps(dtb.as_ptr().add(k)), vx),
            );
            _mm256_storeu_ps(sp, sv);
            _mm256_fmadd_ps(sv, _mm256_loadu_ps(c.as_ptr().add(k)), acc)
        }
    };
    let [mut a0, mut a1, mut a2, mut a3] = [_mm256_setzero_ps(); 4];
    let mut k = 0;
    while k + 32 <= n {
        a0 = upd(k, a0);
        a1 = upd(k + 8, a1);
        a2 = upd(k + 16, a2);
        a3 = upd(k + 24, a3);
        k += 32;
    }
    while k + 8 <= n {
        a0 = upd(k, a0);
        k += 8;
    }
    let mut tail = 0.0f32;
    for j in k..n {
        s[j] = s[j] * da + dtb[j] * xv;
        tail += s[j] * c[j];
    }
    let h = hsum4([a0, a1, a2, a3]);
    ((h[0] + h[1]) + (h[2] + h[3])) + tail
}

/// Mamba-2 step, N ≤ [`SIMD_MAX_N`](crate::cpu::ssm::SIMD_MAX_N).
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn mamba2(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    dims: Mamba2Dims,
    heads: std::ops::Range<usize>,
    y: &mut [f32],
) {
    mamba2_rows(
        state,
        x,
        dt,
        a,
        b,
        c,
        d,
        dims,
        heads,
        y,
        |s, dtb, c, da, xv| row_m2(s, dtb, c, da, xv),
    );
}

#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn mamba1(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) {
    let n = b.len();
    for i in 0..x.len() {
        let (xi, dti) = (x[i], dt[i]);
        let h = &mut state[i * n..(i + 1) * n];
        let ai = &a[i * n..(i + 1) * n];
        let (vdt, vx) = (_mm256_set1_ps(dti), _mm256_set1_ps(xi));
        let mut acc = _mm256_setzero_ps();
        let mut k = 0;
        while k + 8 <= n {
            // SAFETY: k + 8 <= n = h.len() = ai.len() = b.len() = c.len().
            unsafe {
                let hp = h.as_mut_ptr().add(k);
                let e = exp8(_mm256_mul_ps(vdt, _mm256_loadu_ps(ai.as_ptr().add(k))));
                let dtb = _mm256_mul_ps(vdt, _mm256_loadu_ps(b.as_ptr().add(k)));
                let hv = _mm256_add_ps(
                    _mm256_mul_ps(e, _mm256_loadu_ps(hp)),
                    _mm256_mul_ps(dtb, vx),
                );
                _mm256_storeu_ps(hp, hv);
                acc = _mm256_fmadd_ps(hv, _mm256_loadu_ps(c.as_ptr().add(k)), acc);
            }
            k += 8;
        }
        let mut tail = 0.0f32;
        for j in k..n {
            h[j] = (dti * ai[j]).exp() * h[j] + (dti * b[j]) * xi;
            tail += h[j] * c[j];
        }
        let z = _mm256_setzero_ps();
        y[i] = (hsum4([acc, z, z, z])[0] + tail) + d[i] * xi;
    }
}
