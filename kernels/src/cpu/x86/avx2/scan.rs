//! Mamba-2 prefill scan with 256-bit vectors, in the factored form of
//! [`crate::cpu::scan_blocks`]. Sixteen ymm registers hold no whole 128-wide state row, so two
//! rows at a time are cut into chunks of 32 (or 16) columns that stay in registers while the
//! block's tokens pass over them. Each chunk's part of the contraction is kept as a vector per
//! token and row and reduced across lanes once, after the row's last chunk.
//!
//! On the Zen 4 VM (`WEFT_PATH=avx2`, `scan_speed`, P = 64, N = 128): 9.3 ns per token-row
//! against 18.9 for the per-token steps. One row in chunks of 64 ran 11.4, chunks of 16 11.1,
//! and reducing every chunk's part at once 11.3 (its lane reductions sat on the critical path).

use std::arch::x86_64::*;

use super::Avx2;
use crate::cpu::scan_blocks::{FIRST, LAST, MID, ONLY, ScanBlock, chunk_pos, for_each_block};
use crate::cpu::ssm::{Mamba2Head, SCAN_BLOCK};

/// `false` for state sizes without a kernel (N not a multiple of 16). `scratch` needs
/// `min(t, SCAN_BLOCK) · (N + 1)` floats.
pub(in crate::cpu::x86) fn ssm_scan_mamba2(
    _: Avx2,
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) -> bool {
    let n = state.len() / head.p;
    if n == 0 || !n.is_multiple_of(16) {
        return false;
    }
    for_each_block(state, head, scratch, y, |state, blk, y| {
        // SAFETY: the `Avx2` token proves AVX2 and FMA; the caller checked every row of x
        // (p wide), c (n wide) and the lengths of state (p·n) and y (t·p); `dtb` and `scale`
        // hold the block's tokens; the chunk width divides n.
        unsafe {
            if n.is_multiple_of(32) {
                block::<4, 2, 1>(state, blk, y, n);
            } else {
                block::<2, 2, 1>(state, blk, y, n);
            }
        }
    });
    true
}

/// Every state row over one block: `RW` rows at a time, chunk by chunk of `8·NV` columns.
///
/// # Safety
/// AVX2 and FMA present; as [`ssm_scan_mamba2`] checked, and `8·NV` divides `n`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block<const NV: usize, const RW: usize, const AC: usize>(
    state: &mut [f32],
    h: ScanBlock,
    y: &mut [f32],
    n: usize,
) {
    // The contraction's partial sums of the chunks before the last, per token and row, kept
    // as vectors so that each (token, row) is reduced across lanes once, not once per chunk.
    let mut part = [[_mm256_setzero_ps(); RW]; SCAN_BLOCK];
    let w = 8 * NV;
    let mut pi = 0;
    while pi < h.p {
        let two = RW == 2 && pi + 2 <= h.p;
        for n0 in (0..n).step_by(w) {
            let pos = chunk_pos(n0, w, n);
            // SAFETY: rows pi.. (two of them only if they exist) and columns n0..n0 + 8·NV < n;
            // as this function's contract.
            unsafe {
                macro_rules! go {
                    ($rw:literal) => {
                        match pos {
                            ONLY => {
                                rows::<NV, $rw, RW, AC, ONLY>(state, h, pi, n0, n, &mut part, y)
                            }
                            FIRST => {
                                rows::<NV, $rw, RW, AC, FIRST>(state, h, pi, n0, n, &mut part, y)
                            }
                            MID => rows::<NV, $rw, RW, AC, MID>(state, h, pi, n0, n, &mut part, y),
                            _ => rows::<NV, $rw, RW, AC, LAST>(state, h, pi, n0, n, &mut part, y),
                        }
                    };
                }
                if two { go!(2) } else { go!(1) }
            }
        }
        pi += if two { 2 } else { 1 };
    }
}

/// Σ of the 8 lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn hsum(v: __m256) -> f32 {
    let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
}

/// Columns `n0..n0 + 8·NV` of state rows `pi..pi + R` over the block's tokens, held in
/// registers; `AC` accumulators per row for the contraction, whose sum goes to `part` or, for
/// the row's last chunk (see [`ONLY`]), finishes y with the D·x term.
///
/// # Safety
/// As [`block`], with `R <= RW`, `pi + R <= p` and `n0 + 8·NV <= n`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
#[allow(clippy::needless_range_loop)] // `k` also addresses the dt·B/c and C vectors
unsafe fn rows<const NV: usize, const R: usize, const RW: usize, const AC: usize, const POS: u8>(
    state: &mut [f32],
    h: ScanBlock,
    pi: usize,
    n0: usize,
    n: usize,
    part: &mut [[__m256; RW]; SCAN_BLOCK],
    y: &mut [f32],
) {
    let ScanBlock {
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
    // SAFETY (pointer arithmetic below): columns n0..n0 + 8·NV of rows pi..pi + R of the
    // state, tokens t0..t1 (at most SCAN_BLOCK) of x/c/y and their block offsets in
    // dtb/scale/part, all checked by the callers.
    unsafe {
        let sp = state.as_mut_ptr().add(pi * n + n0);
        let vfirst = _mm256_set1_ps(first);
        let mut s: [[__m256; NV]; R] = std::array::from_fn(|r| {
            std::array::from_fn(|k| _mm256_mul_ps(_mm256_loadu_ps(sp.add(r * n + 8 * k)), vfirst))
        });
        for i in t0..t1 {
            let xr = x.data.as_ptr().add(i * x.stride + pi);
            let xv: [f32; R] = std::array::from_fn(|r| *xr.add(r));
            let vx = xv.map(|v| _mm256_set1_ps(v));
            let bp = dtb.as_ptr().add((i - t0) * n + n0);
            let cp = c.data.as_ptr().add(i * c.stride + n0);
            let mut acc = [[_mm256_setzero_ps(); AC]; R];
            for k in 0..NV {
                let bv = _mm256_loadu_ps(bp.add(8 * k));
                let cv = _mm256_loadu_ps(cp.add(8 * k));
                for r in 0..R {
                    let sk = _mm256_fmadd_ps(bv, vx[r], s[r][k]);
                    s[r][k] = sk;
                    acc[r][k % AC] = _mm256_fmadd_ps(sk, cv, acc[r][k % AC]);
                }
            }
            let pt = part.get_unchecked_mut(i - t0);
            for r in 0..R {
                let mut sum = acc[r][1..]
                    .iter()
                    .fold(acc[r][0], |a, &v| _mm256_add_ps(a, v));
                if POS == MID || POS == LAST {
                    sum = _mm256_add_ps(pt[r], sum);
                }
                if POS == FIRST || POS == MID {
                    pt[r] = sum;
                } else {
                    let sc = *scale.get_unchecked(i - t0);
                    *y.get_unchecked_mut(i * p + pi + r) = sc * hsum(sum) + d * xv[r];
                }
            }
        }
        let last = _mm256_set1_ps(*scale.get_unchecked(t1 - 1 - t0));
        for (r, sr) in s.iter().enumerate() {
            for (k, sk) in sr.iter().enumerate() {
                _mm256_storeu_ps(sp.add(r * n + 8 * k), _mm256_mul_ps(*sk, last));
            }
        }
    }
}
