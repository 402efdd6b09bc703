//! Mamba-2 prefill scan with NEON, in the factored form of [`crate::cpu::scan_blocks`]: two
//! state rows at a time are cut into chunks of 32 (or 16) columns that stay in registers (16
//! or 8 of the 32 q registers) while the block's tokens pass over them. Each chunk's part of
//! the contraction is kept as a vector per token and row and reduced across lanes once, after
//! the row's last chunk: the layout the AVX2 kernel measured fastest on x86.

use std::arch::aarch64::*;

use crate::cpu::scan_blocks::{FIRST, LAST, MID, ONLY, ScanBlock, chunk_pos, for_each_block};
use crate::cpu::ssm::{Mamba2Head, SCAN_BLOCK};

/// `false` for state sizes without a kernel (N not a multiple of 16). `scratch` needs
/// `min(t, SCAN_BLOCK) · (N + 1)` floats.
pub(super) fn ssm_scan_mamba2(
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
        // SAFETY: NEON is part of the aarch64 baseline; the caller checked every row of x
        // (p wide), c (n wide) and the lengths of state (p·n) and y (t·p); `dtb` and `scale`
        // hold the block's tokens; the chunk width divides n.
        unsafe {
            if n.is_multiple_of(32) {
                block::<8>(state, blk, y, n);
            } else {
                block::<4>(state, blk, y, n);
            }
        }
    });
    true
}

/// Every state row over one block: two rows at a time, chunk by chunk of `4·NV` columns.
///
/// # Safety
/// As [`ssm_scan_mamba2`] checked, and `4·NV` divides `n`.
#[target_feature(enable = "neon")]
unsafe fn block<const NV: usize>(state: &mut [f32], h: ScanBlock, y: &mut [f32], n: usize) {
    // The contraction's partial sums of the chunks before the last, per token and row.
    let mut part = [[vdupq_n_f32(0.0); 2]; SCAN_BLOCK];
    let w = 4 * NV;
    let mut pi = 0;
    while pi < h.p {
        let two = pi + 2 <= h.p;
        for n0 in (0..n).step_by(w) {
            let pos = chunk_pos(n0, w, n);
            // SAFETY: rows pi.. (two of them only if they exist) and columns n0..n0 + 4·NV < n;
            // as this function's contract.
            unsafe {
                macro_rules! go {
                    ($r:literal) => {
                        match pos {
                            ONLY => rows::<NV, $r, ONLY>(state, h, pi, n0, n, &mut part, y),
                            FIRST => rows::<NV, $r, FIRST>(state, h, pi, n0, n, &mut part, y),
                            MID => rows::<NV, $r, MID>(state, h, pi, n0, n, &mut part, y),
                            _ => rows::<NV, $r, LAST>(state, h, pi, n0, n, &mut part, y),
                        }
                    };
                }
                if two { go!(2) } else { go!(1) }
            }
        }
        pi += if two { 2 } else { 1 };
    }
}

/// Columns `n0..n0 + 4·NV` of state rows `pi..pi + R` over the block's tokens, held in
/// registers; two accumulators per row for the contraction, whose sum goes to `part` or, for
/// the row's last chunk (see [`ONLY`]), finishes y with the D·x term.
///
/// # Safety
/// As [`block`], with `R <= 2`, `pi + R <= p` and `n0 + 4·NV <= n`.
#[target_feature(enable = "neon")]
#[inline]
#[allow(clippy::needless_range_loop)] // `k` also addresses the dt·B/c and C vectors
unsafe fn rows<const NV: usize, const R: usize, const POS: u8>(
    state: &mut [f32],
    h: ScanBlock,
    pi: usize,
    n0: usize,
    n: usize,
    part: &mut [[float32x4_t; 2]; SCAN_BLOCK],
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
    // SAFETY (pointer arithmetic below): columns n0..n0 + 4·NV of rows pi..pi + R of the
    // state, tokens t0..t1 (at most SCAN_BLOCK) of x/c/y and their block offsets in
    // dtb/scale/part, all checked by the callers.
    unsafe {
        let sp = state.as_mut_ptr().add(pi * n + n0);
        let mut s: [[float32x4_t; NV]; R] = std::array::from_fn(|r| {
            std::array::from_fn(|k| vmulq_n_f32(vld1q_f32(sp.add(r * n + 4 * k)), first))
        });
        for i in t0..t1 {
            let xr = x.data.as_ptr().add(i * x.stride + pi);
            let xv: [f32; R] = std::array::from_fn(|r| *xr.add(r));
            let bp = dtb.as_ptr().add((i - t0) * n + n0);
            let cp = c.data.as_ptr().add(i * c.stride + n0);
            let mut acc = [[vdupq_n_f32(0.0); 2]; R];
            for k in 0..NV {
                let bv = vld1q_f32(bp.add(4 * k));
                let cv = vld1q_f32(cp.add(4 * k));
                for r in 0..R {
                    let sk = vfmaq_n_f32(s[r][k], bv, xv[r]);
                    s[r][k] = sk;
                    acc[r][k % 2] = vfmaq_f32(acc[r][k % 2], sk, cv);
                }
            }
            let pt = part.get_unchecked_mut(i - t0);
            for r in 0..R {
                let mut sum = vaddq_f32(acc[r][0], acc[r][1]);
                if POS == MID || POS == LAST {
                    sum = vaddq_f32(pt[r], sum);
                }
                if POS == FIRST || POS == MID {
                    pt[r] = sum;
                } else {
                    let sc = *scale.get_unchecked(i - t0);
                    *y.get_unchecked_mut(i * p + pi + r) = sc * vaddvq_f32(sum) + d * xv[r];
                }
            }
        }
        let last = *scale.get_unchecked(t1 - 1 - t0);
        for (r, sr) in s.iter().enumerate() {
            for (k, sk) in sr.iter().enumerate() {
                vst1q_f32(sp.add(r * n + 4 * k), vmulq_n_f32(*sk, last));
            }
        }
    }
}
