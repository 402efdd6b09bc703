//! Mamba-2 prefill scan with 512-bit vectors: one or two state rows (N = 16·NV floats) stay in
//! registers while the tokens of a block pass over it.
//!
//! Within a block the decay is factored out of the state (SSD's chunk form, SPEC.md §2.6, done
//! as a recurrence): with c_k = Π exp(dt·a) over the block's tokens after its first, the
//! state entering the block decayed by its first token, and u_k = dt_k·x_k·B_k,
//!
//!   s_k = c_k · s'_k,   s'_k = s'_(k−1) + u_k / c_k,   y_k = c_k · (s'_k · C_k) + D·x_k,
//!
//! so a token costs each state vector two FMAs (update, contraction) where the plain
//! recurrence spends a multiply by the decay, a multiply, an add and an FMA. The block ends
//! after TB tokens or before c would drop below e^−LIM, which keeps 1/c far from overflow; its
//! state is then multiplied by its last c. The result equals the recurrence up to f32 rounding
//! (`tests/simd_ops.rs` bounds it against an f64 recurrence), not bit for bit.

use std::arch::x86_64::*;

use super::Avx512;
use crate::cpu::ssm::{Mamba2Head, Strided};

/// Tokens per block at most: their dt·B/c and C rows (2 · 32 · N floats) stay in L1 across
/// the rows.
const TB: usize = crate::cpu::ssm::SCAN_BLOCK;
/// A block's decay since its first token stays ≥ e^−LIM, so 1/c ≤ e^LIM ≈ 8·10^12.
const LIM: f32 = 30.0;

/// One block's inputs as the row kernels read them.
#[derive(Clone, Copy)]
struct Block<'a> {
    x: Strided<'a>,
    c: Strided<'a>,
    /// The block's tokens of the head: `t0..t1`.
    t0: usize,
    t1: usize,
    /// dt·B/c per token of the block, `n` floats each.
    dtb: &'a [f32],
    /// c per token of the block.
    scale: &'a [f32],
    /// exp(dt·a) of the block's first token: the entering state's decay.
    first: f32,
    d: f32,
    p: usize,
}

/// `false` for state sizes without a kernel (N not 16, 32, 64, 128 or 256). `scratch` needs
/// `min(t, TB) · (N + 1)` floats.
pub(in crate::cpu::x86) fn ssm_scan_mamba2(
    _: Avx512,
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) -> bool {
    let Mamba2Head {
        x,
        dt,
        b,
        c,
        a,
        d,
        p,
        t,
    } = head;
    let n = state.len() / p;
    if !matches!(n, 16 | 32 | 64 | 128 | 256) {
        return false;
    }
    let tb = t.min(TB);
    let (dtb, scale) = scratch[..tb * (n + 1)].split_at_mut(tb * n);
    let mut t0 = 0;
    while t0 < t {
        let first = (dt.row(t0, 1)[0] * a).exp();
        // log c of the block's tokens; the first's is 0.
        let (mut log_c, mut t1) = (0.0f32, t0);
        while t1 < t && t1 - t0 < TB {
            let dti = dt.row(t1, 1)[0];
            if t1 > t0 {
                let next = log_c + dti * a;
                if next < -LIM {
                    break;
                }
                log_c = next;
            }
            let k = t1 - t0;
            scale[k] = log_c.exp();
            let f = dti * (-log_c).exp();
            for (o, &bv) in dtb[k * n..(k + 1) * n].iter_mut().zip(b.row(t1, n)) {
                *o = f * bv;
            }
            t1 += 1;
        }
        let blk = Block {
            x,
            c,
            t0,
            t1,
            dtb,
            scale,
            first,
            d,
            p,
        };
        // SAFETY: the `Avx512` token proves the features; the caller checked every row of x
        // (p wide), c (n wide) and the lengths of state (p·n) and y (t·p); `dtb` and `scale`
        // hold the block's tokens (at most TB).
        unsafe {
            match n / 16 {
                1 => block::<1>(state, blk, y),
                2 => block::<2>(state, blk, y),
                4 => block::<4>(state, blk, y),
                8 => block::<8>(state, blk, y),
                _ => block::<16>(state, blk, y),
            }
        }
        t0 = t1;
    }
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
