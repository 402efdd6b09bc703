//! NEON int8 path without dotprod: the activation quantizer, and Q8_0 / Q4_0 four-row
//! kernels with widening multiplies (`smull` → i16, pairwise-accumulate `sadalp` → i32).

use std::arch::aarch64::*;

use super::rowsum::{no_offset, rowsum_dot4};
use crate::cpu::matvec_q8::Q8Row;
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// Identical bytes to the scalar reference: same f32 scale division, one rounding for x·(1/d),
/// FCVTNS rounds ties to even like `round_ties_even`.
#[target_feature(enable = "neon")]
pub(super) fn quantize_q8(x: &[f32], qs: &mut [i8], d: &mut [f32]) {
    let nb = x.len() / QK8_0;
    assert!(qs.len() == x.len() && d.len() == nb && x.len().is_multiple_of(QK8_0));
    for (b, db) in d.iter_mut().enumerate() {
        // SAFETY: b < nb: 32 floats of x and 32 bytes of qs from b·32 are in bounds.
        unsafe {
            let v: [float32x4_t; 8] =
                std::array::from_fn(|j| vld1q_f32(x.as_ptr().add(b * QK8_0 + 4 * j)));
            let mut m = vabsq_f32(v[0]);
            for vj in &v[1..] {
                m = vmaxq_f32(m, vabsq_f32(*vj));
            }
            let scale = vmaxvq_f32(m) / 127.0;
            let id = if scale != 0.0 { 1.0 / scale } else { 0.0 };
            let q: [int32x4_t; 8] = std::array::from_fn(|j| vcvtnq_s32_f32(vmulq_n_f32(v[j], id)));
            let h: [int16x8_t; 4] = std::array::from_fn(|j| {
                vcombine_s16(vqmovn_s32(q[2 * j]), vqmovn_s32(q[2 * j + 1]))
            });
            let o = qs.as_mut_ptr().add(b * QK8_0);
            vst1q_s8(o, vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1])));
            vst1q_s8(o.add(16), vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3])));
            *db = scale;
        }
    }
}

/// Checks a row set against the activation and returns the block count.
#[inline]
pub(super) fn blocks(r: &[&[u8]; 4], x: &Q8Row, block_bytes: usize) -> usize {
    let nb = x.d.len();
    assert_eq!(x.qs.len(), nb * QK8_0, "activation shape");
    for row in r {
        assert_eq!(row.len(), nb * block_bytes, "row length");
    }
    nb
}

/// Σ w·x over 32 int8 pairs (two vectors each) into 4 int32 lanes, exactly.
#[target_feature(enable = "neon")]
#[inline]
fn dot32(w0: int8x16_t, w1: int8x16_t, x0: int8x16_t, x1: int8x16_t) -> int32x4_t {
    let mut s = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    s = vpadalq_s16(s, vmull_high_s8(w0, x0));
    s = vpadalq_s16(s, vmull_s8(vget_low_s8(w1), vget_low_s8(x1)));
    vpadalq_s16(s, vmull_high_s8(w1, x1))
}

/// The 32 signed Q4_0 weights of the block at `p` (nibbles − 8), as two vectors.
#[target_feature(enable = "neon")]
#[inline]
pub(super) unsafe fn q4_weights(p: *const u8) -> (int8x16_t, int8x16_t) {
    // SAFETY: the caller guarantees the 16 quant bytes at p + 2 are readable.
    let q = unsafe { vld1q_u8(p.add(2)) };
    let eight = vdupq_n_s8(8);
    let lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight);
    let hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8::<4>(q)), eight);
    (lo, hi)
}

/// The 32 Q8_0 quants of the block at `p`, as two vectors.
#[target_feature(enable = "neon")]
#[inline]
pub(super) unsafe fn q8_weights(p: *const u8) -> (int8x16_t, int8x16_t) {
    // SAFETY: the caller guarantees the 32 quant bytes at p + 2 are readable.
    unsafe { (vld1q_s8(p.add(2).cast()), vld1q_s8(p.add(18).cast())) }
}

/// One row's block product in four int32 lanes, for weights split by `split`.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn lanes(
    split: unsafe fn(*const u8) -> (int8x16_t, int8x16_t),
    blk: *const u8,
    x0: int8x16_t,
    x1: int8x16_t,
) -> int32x4_t {
    // SAFETY: the caller guarantees the block is readable.
    let (w0, w1) = unsafe { split(blk) };
    dot32(w0, w1, x0, x1)
}

#[target_feature(enable = "neon")]
#[inline]
unsafe fn q8_lanes(blk: *const u8, x0: int8x16_t, x1: int8x16_t) -> int32x4_t {
    // SAFETY: as for `lanes`.
    unsafe { lanes(q8_weights, blk, x0, x1) }
}

#[target_feature(enable = "neon")]
#[inline]
unsafe fn q4_lanes(blk: *const u8, x0: int8x16_t, x1: int8x16_t) -> int32x4_t {
    // SAFETY: as for `lanes`.
    unsafe { lanes(q4_weights, blk, x0, x1) }
}

rowsum_dot4!(dot4_q8_0, "neon", Q8_0_BYTES, q8_lanes, no_offset);
rowsum_dot4!(dot4_q4_0, "neon", Q4_0_BYTES, q4_lanes, no_offset);
