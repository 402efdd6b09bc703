//! Mamba-2 prefill scan with 512-bit vectors: one or two state rows (N = 16·NV floats) stay in
//! registers while the tokens of a block pass over it. The state update is the scalar
//! reference's operations in its order (mul, mul, add: bit-identical states); the C contraction
//! keeps the AVX2 step's four 8-lane accumulators (as two 16-lane ones) and its reduction order,
//! so `y` equals the per-token AVX2 step bit for bit.

use std::arch::x86_64::*;

use super::Avx512;
use crate::cpu::ssm::{Mamba2Head, Strided};

/// Tokens per block: their dt·B and C rows (2 · 32 · N floats) stay in L1 across the rows.
const TB: usize = 32;

/// One head's inputs as the row kernels read them: x and C as given, dt·B and exp(dt·a)
/// computed once per token, the skip weight `d` and the head dim `p`.
#[derive(Clone, Copy)]
struct Prepared<'a> {
    x: Strided<'a>,
    /// dt·B, `n` floats per token.
    dtb: &'a [f32],
    /// exp(dt·a), one per token.
    da: &'a [f32],
    c: Strided<'a>,
    d: f32,
    p: usize,
}

/// `false` for state sizes without a kernel (N not 16, 32, 64, 128 or 256).
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
    // dt·B and exp(dt·a) per token, as the step computes them.
    let (dtb, da) = scratch[..t * (n + 1)].split_at_mut(t * n);
    for i in 0..t {
        let dti = dt.row(i, 1)[0];
        for (o, &bv) in dtb[i * n..(i + 1) * n].iter_mut().zip(b.row(i, n)) {
            *o = dti * bv;
        }
        da[i] = (dti * a).exp();
    }
    let h = Prepared {
        x,
        dtb,
        da,
        c,
        d,
        p,
    };
    // SAFETY: the `Avx512` token proves the features; the caller checked every row of x (p
    // wide), c (n wide) and the lengths of state (p·n) and y (t·p).
    unsafe {
        match n / 16 {
            1 => scan::<1>(state, h, t, y),
            2 => scan::<2>(state, h, t, y),
            4 => scan::<4>(state, h, t, y),
            8 => scan::<8>(state, h, t, y),
            _ => scan::<16>(state, h, t, y),
        }
    }
    true
}

/// The AVX2 step's `((A+B)+(C+D)) + 0` from `a01 = [acc0 | acc1]`, `a23 = [acc2 | acc3]`,
/// where A..D are the 8-lane accumulators' sums in `hsum4`'s order.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
fn reduce(a01: __m512, a23: __m512) -> f32 {
    // Per 128-bit lane: [e0+e1, e2+e3] of acc0/acc1 and acc2/acc3 (hadd's pairs).
    let t1 = _mm512_add_ps(
        _mm512_shuffle_ps::<0x88>(a01, a23),
        _mm512_shuffle_ps::<0xDD>(a01, a23),
    );
    // (e0+e1)+(e2+e3) per 128-bit half of each accumulator.
    let t2 = _mm512_add_ps(
        _mm512_shuffle_ps::<0x88>(t1, t1),
        _mm512_shuffle_ps::<0xDD>(t1, t1),
    );
    // Low half + high half: lanes 0, 1 = A, C; lanes 8, 9 = B, D.
    let t3 = _mm512_add_ps(t2, _mm512_shuffle_f32x4::<0xB1>(t2, t2));
    // Lanes 0, 1 = A+B, C+D.
    let t4 = _mm512_add_ps(t3, _mm512_shuffle_f32x4::<0x4E>(t3, t3));
    let lo = _mm512_castps512_ps128(t4);
    let s = _mm_cvtss_f32(lo) + _mm_cvtss_f32(_mm_movehdup_ps(lo));
    // The step's empty tail (N % 8 == 0) is still added.
    s + 0.0
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn scan<const NV: usize>(state: &mut [f32], h: Prepared, t: usize, y: &mut [f32]) {
    let p = h.p;
    let mut t0 = 0;
    while t0 < t {
        let t1 = (t0 + TB).min(t);
        let mut pi = 0;
        // Two state rows per pass where they fit in registers: the dt·B and C loads serve both
        // and the two rows' recurrences overlap.
        if NV <= 8 {
            while pi + 2 <= p {
                // SAFETY: rows pi, pi + 1 < p; as this function's contract.
                unsafe { rows::<NV, 2>(state, h, pi, t0..t1, y) };
                pi += 2;
            }
        }
        while pi < p {
            // SAFETY: row pi < p; as this function's contract.
            unsafe { rows::<NV, 1>(state, h, pi, t0..t1, y) };
            pi += 1;
        }
        t0 = t1;
    }
}

/// State rows `pi..pi + RW` over tokens `ts`, the rows held in registers.
///
/// # Safety
/// As [`scan`], with `pi + RW <= p` and `ts.end <= t`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
#[allow(clippy::needless_range_loop)] // `k` also addresses the dt·B and C vectors
unsafe fn rows<const NV: usize, const RW: usize>(
    state: &mut [f32],
    h: Prepared,
    pi: usize,
    ts: std::ops::Range<usize>,
    y: &mut [f32],
) {
    let Prepared {
        x,
        dtb,
        da,
        c,
        d,
        p,
    } = h;
    let n = NV * 16;
    // SAFETY (pointer arithmetic below): rows pi..pi + RW of the state (n floats each), tokens
    // in `ts` of dtb/da/x/c/y, all checked by the callers.
    unsafe {
        let sp = state.as_mut_ptr().add(pi * n);
        let mut s: [[__m512; NV]; RW] = std::array::from_fn(|r| {
            std::array::from_fn(|k| _mm512_loadu_ps(sp.add(r * n + 16 * k)))
        });
        for i in ts {
            let xr = x.data.as_ptr().add(i * x.stride + pi);
            let xv: [f32; RW] = std::array::from_fn(|r| *xr.add(r));
            let vx = xv.map(|v| _mm512_set1_ps(v));
            let vda = _mm512_set1_ps(*da.get_unchecked(i));
            let bp = dtb.as_ptr().add(i * n);
            let cp = c.data.as_ptr().add(i * c.stride);
            let mut a01 = [_mm512_setzero_ps(); RW];
            let mut a23 = [_mm512_setzero_ps(); RW];
            for k in 0..NV {
                let bv = _mm512_loadu_ps(bp.add(16 * k));
                let cv = _mm512_loadu_ps(cp.add(16 * k));
                for r in 0..RW {
                    let sk = _mm512_add_ps(_mm512_mul_ps(s[r][k], vda), _mm512_mul_ps(bv, vx[r]));
                    s[r][k] = sk;
                    if k % 2 == 0 {
                        a01[r] = _mm512_fmadd_ps(sk, cv, a01[r]);
                    } else {
                        a23[r] = _mm512_fmadd_ps(sk, cv, a23[r]);
                    }
                }
            }
            for r in 0..RW {
                *y.get_unchecked_mut(i * p + pi + r) = reduce(a01[r], a23[r]) + d * xv[r];
            }
        }
        for (r, sr) in s.iter().enumerate() {
            for (k, sk) in sr.iter().enumerate() {
                _mm512_storeu_ps(sp.add(r * n + 16 * k), *sk);
            }
        }
    }
}
