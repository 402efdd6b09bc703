//! NEON + dotprod int8 kernels: SDOT (four int8 products summed into each int32 lane, exact).
//! `vdotq_s32` is unstable in Rust, so SDOT is emitted with inline asm in functions compiled
//! with the `dotprod` target feature; they are reached only through a [`super::Dotprod`] proof.

use std::arch::aarch64::*;
use std::arch::asm;

use super::q8::{blocks, q8_weights};
use super::rowsum::{no_offset, rowsum_dot4};
use crate::cpu::matvec_q8::Q8Row;
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// acc + Σ a·b per lane (4 products each).
#[target_feature(enable = "neon,dotprod")]
#[inline]
pub(crate) fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut r = acc;
    // SAFETY: SDOT reads and writes only the named registers; the `dotprod` feature of this
    // function (proven by the caller's token) makes the instruction valid.
    unsafe {
        asm!("sdot {r:v}.4s, {a:v}.16b, {b:v}.16b", r = inout(vreg) r, a = in(vreg) a,
             b = in(vreg) b, options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// One Q8_0 row's block product in four int32 lanes.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn q8_lanes(blk: *const u8, x0: int8x16_t, x1: int8x16_t) -> int32x4_t {
    // SAFETY: the caller guarantees the block's 34 bytes are readable.
    let (w0, w1) = unsafe { q8_weights(blk) };
    sdot(sdot(vdupq_n_s32(0), w0, x0), w1, x1)
}

/// One Q4_0 row's Σ nibble·x in four int32 lanes: the nibbles (0..15) go in as they are, and
/// [`q4_offset`] takes the −8 off once for all four rows.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn q4_lanes(blk: *const u8, x0: int8x16_t, x1: int8x16_t) -> int32x4_t {
    // SAFETY: the caller guarantees the block's 18 bytes are readable.
    let q = unsafe { vld1q_u8(blk.add(2)) };
    let lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));
    let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(q));
    sdot(sdot(vdupq_n_s32(0), lo, x0), hi, x1)
}

/// 8·Σx of the block, in every lane.
#[target_feature(enable = "neon,dotprod")]
#[inline]
fn q4_offset(x0: int8x16_t, x1: int8x16_t) -> int32x4_t {
    let eight = vdupq_n_s8(8);
    let c = sdot(sdot(vdupq_n_s32(0), eight, x0), eight, x1);
    let c = vpaddq_s32(c, c);
    vpaddq_s32(c, c)
}

rowsum_dot4!(dot4_q8_0, "neon,dotprod", Q8_0_BYTES, q8_lanes, no_offset);
rowsum_dot4!(dot4_q4_0, "neon,dotprod", Q4_0_BYTES, q4_lanes, q4_offset);
