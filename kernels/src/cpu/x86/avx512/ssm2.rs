//! Mamba-2 decode step with 512-bit vectors for N = 16·NV (16 to 256): per head, dt·B is formed
//! once and it and C stay in registers while the head's P state rows pass. Each row is updated
//! with the scalar reference's operations (s·da, (dt·b)·x, add: no FMA), so states are
//! bit-identical to it; the C contraction sums in two 16-lane accumulators.

use std::arch::x86_64::*;
use std::ops::Range;

use super::Avx512;
use crate::cpu::ssm::Mamba2Dims;

/// `false` for state sizes without a kernel (N not 16, 32, 64, 128 or 256). Lengths as
/// [`crate::cpu::ssm::ssm_step_mamba2_heads_on`] checked them.
#[allow(clippy::too_many_arguments)]
pub(in crate::cpu::x86) fn ssm_mamba2(
    _: Avx512,
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    dims: Mamba2Dims,
    heads: Range<usize>,
    y: &mut [f32],
) -> bool {
    let v = StepViews { x, dt, a, b, c, d };
    // SAFETY: the `Avx512` token proves the features; the caller checked state (len·P·N),
    // x and y (len·P), dt, a and d (len) and b, c (G·N) for the len = heads.len() heads.
    unsafe {
        match dims.n {
            16 => heads_step::<1>(state, v, dims, heads, y),
            32 => heads_step::<2>(state, v, dims, heads, y),
            64 => heads_step::<4>(state, v, dims, heads, y),
            128 => heads_step::<8>(state, v, dims, heads, y),
            256 => heads_step::<16>(state, v, dims, heads, y),
            _ => return false,
        }
    }
    true
}

/// The step's read-only inputs (as [`ssm_mamba2`] takes them).
#[derive(Clone, Copy)]
struct StepViews<'a> {
    x: &'a [f32],
    dt: &'a [f32],
    a: &'a [f32],
    b: &'a [f32],
    c: &'a [f32],
    d: &'a [f32],
}

/// # Safety
/// AVX-512 present; lengths as [`ssm_mamba2`] documents, N = 16·NV.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)] // `k` also addresses the state row
unsafe fn heads_step<const NV: usize>(
    state: &mut [f32],
    v: StepViews,
    dims: Mamba2Dims,
    heads: Range<usize>,
    y: &mut [f32],
) {
    let Mamba2Dims { nh, p, n, g } = dims;
    let heads_per_group = nh / g;
    for (j, h) in heads.enumerate() {
        let grp = h / heads_per_group;
        let (dth, dh) = (v.dt[j], v.d[j]);
        let vda = _mm512_set1_ps((dth * v.a[j]).exp());
        let vdt = _mm512_set1_ps(dth);
        let mut dtb = [_mm512_setzero_ps(); NV];
        let mut cv = [_mm512_setzero_ps(); NV];
        // SAFETY: group grp's N = 16·NV floats of b and c exist (b, c: G·N).
        unsafe {
            let (bg, cg) = (v.b.as_ptr().add(grp * n), v.c.as_ptr().add(grp * n));
            for k in 0..NV {
                dtb[k] = _mm512_mul_ps(vdt, _mm512_loadu_ps(bg.add(16 * k)));
                cv[k] = _mm512_loadu_ps(cg.add(16 * k));
            }
        }
        for pi in 0..p {
            let row = j * p + pi;
            let xv = v.x[row];
            let vx = _mm512_set1_ps(xv);
            let mut acc = [_mm512_setzero_ps(); 2];
            // SAFETY: row < len·P, so its N floats lie in state (len·P·N).
            unsafe {
                let s = state.as_mut_ptr().add(row * n);
                for k in 0..NV {
                    let sp = s.add(16 * k);
                    let sv = _mm512_add_ps(
                        _mm512_mul_ps(_mm512_loadu_ps(sp), vda),
                        _mm512_mul_ps(dtb[k], vx),
                    );
                    _mm512_storeu_ps(sp, sv);
                    acc[k % 2] = _mm512_fmadd_ps(sv, cv[k], acc[k % 2]);
                }
            }
            y[row] = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) + dh * xv;
        }
    }
}
