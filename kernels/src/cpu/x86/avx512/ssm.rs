//! Mamba-2 prefill scan with 512-bit vectors, in the factored form of
//! [`crate::cpu::scan_blocks`]: one or two state rows (N = 16·NV floats) stay in registers
//! while the tokens of a block pass over it.

use std::arch::x86_64::*;

use super::Avx512;
use crate::cpu::scan_blocks::{ScanBlock as Block, for_each_block};
use crate::cpu::ssm::Mamba2Head;

/// `false` for state sizes without a kernel (N not 16, 32, 64, 128 or 256). `scratch` needs
/// `min(t, SCAN_BLOCK) · (N + 1)` floats.
pub(in crate::cpu::x86) fn ssm_scan_mamba2(
    _: Avx512,
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) -> bool {
    let n = state.len() / head.p;
    if !matches!(n, 16 | 32 | 64 | 128 | 256) {
        return false;
    }
    for_each_block(state, head, scratch, y, |state, blk, y| {
        // SAFETY: the `Avx512` token proves the features; the caller checked every row of x
        // (p wide), c (n wide) and the lengths of state (p·n) and y (t·p); `dtb` and `scale`
        // hold the block's tokens.
        unsafe {
            match n / 16 {
                1 => block::<1>(state, blk, y),
                2 => block::<2>(state, blk, y),
                4 => block::<4>(state, blk, y),
                8 => block::<8>(state, blk, y),
                _ => block::<16>(state, blk, y),
            }
        }
    });
    true
}

/// Σ of the 32 lanes of two accumulators.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn reduce(a01: __m512, a23: __m512) -> f32 {
    _mm512_reduce_add_ps(_mm512_add_ps(a01, a23))
}

/// # Safety
/// AVX-512 present; as [`ssm_scan_mamba2`] checked.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn block<const NV: usize>(state: &mut [f32], h: Block, y: &mut [f32]) {
    let p = h.p;
    let mut pi = 0;
    // Two state rows per pass where they fit in registers: the dt·B/c and C loads serve both
    // and the two rows' chains overlap.
    if NV <= 8 {
        while pi + 2 <= p {
            // SAFETY: rows pi, pi + 1 < p; as this function's contract.
            unsafe { rows::<NV, 2>(state, h, pi, y) };
            pi += 2;
        }
    }
    while pi < p {
        // SAFETY: row pi < p; as this function's contract.
        unsafe { rows::<NV, 1>(state, h, pi, y) };
        pi += 1;
    }
}

/// State rows `pi..pi + RW` over the block's tokens, the rows held in registers.
///
/// # Safety
/// As [`block`], with `pi + RW <= p`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
#[allow(clippy::needless_range_loop)] // `k` also addresses the dt·B/c and C vectors
unsafe fn rows<const NV: usize, const RW: usize>(
    state: &mut [f32],
    h: Block,
    pi: usize,
    y: &mut [f32],
) {
    let Block {
        x,
        c,
        t0,
        t1,
        dtb,
        scale,
        first,
        d,
        p,
    } = h;
    let n = NV * 16;
    // SAFETY (pointer arithmetic below): rows pi..pi + RW of the state (n floats each), tokens
    // t0..t1 of x/c/y and their block offsets in dtb/scale, all checked by the callers.
    unsafe {
        let sp = state.as_mut_ptr().add(pi * n);
        let vfirst = _mm512_set1_ps(first);
        let mut s: [[__m512; NV]; RW] = std::array::from_fn(|r| {
            std::array::from_fn(|k| _mm512_mul_ps(_mm512_loadu_ps(sp.add(r * n + 16 * k)), vfirst))
        });
        for i in t0..t1 {
            let xr = x.data.as_ptr().add(i * x.stride + pi);
            let xv: [f32; RW] = std::array::from_fn(|r| *xr.add(r));
            let vx = xv.map(|v| _mm512_set1_ps(v));
            let bp = dtb.as_ptr().add((i - t0) * n);
            let cp = c.data.as_ptr().add(i * c.stride);
            let mut a01 = [_mm512_setzero_ps(); RW];
            let mut a23 = [_mm512_setzero_ps(); RW];
            for k in 0..NV {
                let bv = _mm512_loadu_ps(bp.add(16 * k));
                let cv = _mm512_loadu_ps(cp.add(16 * k));
                for r in 0..RW {
                    let sk = _mm512_fmadd_ps(bv, vx[r], s[r][k]);
                    s[r][k] = sk;
                    if k % 2 == 0 {
                        a01[r] = _mm512_fmadd_ps(sk, cv, a01[r]);
                    } else {
                        a23[r] = _mm512_fmadd_ps(sk, cv, a23[r]);
                    }
                }
            }
            let sc = *scale.get_unchecked(i - t0);
            for r in 0..RW {
                *y.get_unchecked_mut(i * p + pi + r) = sc * reduce(a01[r], a23[r]) + d * xv[r];
            }
        }
        let last = _mm512_set1_ps(*scale.get_unchecked(t1 - 1 - t0));
        for (r, sr) in s.iter().enumerate() {
            for (k, sk) in sr.iter().enumerate() {
                _mm512_storeu_ps(sp.add(r * n + 16 * k), _mm512_mul_ps(*sk, last));
            }
        }
    }
}
