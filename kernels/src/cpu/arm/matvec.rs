//! NEON four-row dot products against an f32 activation: float weights widened to f32,
//! Q8_0 / Q4_0 dequantized exactly in registers and accumulated in the F32 kernel's lanes and
//! order (a quantized matrix matches its dequantized f32 twin bit for bit).

use std::arch::aarch64::*;
use std::arch::asm;

use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// 4 f32 weights at `p`.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn ld_f32(p: *const u8) -> float32x4_t {
    // SAFETY: the caller guarantees 16 readable bytes.
    unsafe { vld1q_f32(p.cast()) }
}

/// Four fp16 values widened to f32 with FCVTL (exact; base ARMv8 FP, where `float16x4_t` and
/// its intrinsics are unstable in Rust).
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn widen_f16x4(h: uint16x4_t) -> float32x4_t {
    let out: float32x4_t;
    // SAFETY: FCVTL reads and writes only the named registers.
    unsafe {
        asm!("fcvtl {o:v}.4s, {h:v}.4h", o = lateout(vreg) out, h = in(vreg) h,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// 4 fp16 weights at `p`, widened.
#[target_feature(enable = "neon")]
#[inline]
pub(super) unsafe fn ld_f16(p: *const u8) -> float32x4_t {
    // SAFETY: the caller guarantees 8 readable bytes.
    widen_f16x4(unsafe { vld1_u16(p.cast()) })
}

/// 4 bf16 weights at `p`, widened (bf16 is the top half of an f32).
#[target_feature(enable = "neon")]
#[inline]
unsafe fn ld_bf16(p: *const u8) -> float32x4_t {
    // SAFETY: the caller guarantees 8 readable bytes.
    let h = unsafe { vld1_u16(p.cast()) };
    vreinterpretq_f32_u32(vshll_n_u16::<16>(h))
}

/// A four-row kernel over a float type of `$es` bytes per element: 8 columns per step in two
/// accumulators per row, then 4, then a zero-padded tail.
macro_rules! float_dot4 {
    ($name:ident, $ld:ident, $es:expr) => {
        #[target_feature(enable = "neon")]
        pub(super) fn $name(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
            const ES: usize = $es;
            let n = x.len();
            for row in &r {
                assert_eq!(row.len(), n * ES, "row length");
            }
            let p = r.map(|s| s.as_ptr());
            let xp = x.as_ptr();
            let mut a = [vdupq_n_f32(0.0); 4];
            let mut b = [vdupq_n_f32(0.0); 4];
            let mut i = 0;
            while i + 8 <= n {
                // SAFETY: i + 8 <= n: elements i..i+8 of x and of each row are in bounds.
                unsafe {
                    let x0 = vld1q_f32(xp.add(i));
                    let x1 = vld1q_f32(xp.add(i + 4));
                    for k in 0..4 {
                        a[k] = vfmaq_f32(a[k], $ld(p[k].add(i * ES)), x0);
                        b[k] = vfmaq_f32(b[k], $ld(p[k].add((i + 4) * ES)), x1);
                    }
                }
                i += 8;
            }
            if i + 4 <= n {
                // SAFETY: i + 4 <= n (as above).
                unsafe {
                    let x0 = vld1q_f32(xp.add(i));
                    for k in 0..4 {
                        a[k] = vfmaq_f32(a[k], $ld(p[k].add(i * ES)), x0);
                    }
                }
                i += 4;
            }
            if i < n {
                let mut xt = [0.0f32; 4];
                xt[..n - i].copy_from_slice(&x[i..]);
                // SAFETY: xt holds 4 floats.
                let x0 = unsafe { vld1q_f32(xt.as_ptr()) };
                for k in 0..4 {
                    let mut wt = [0u8; 4 * ES];
                    wt[..(n - i) * ES].copy_from_slice(&r[k][i * ES..]);
                    // SAFETY: wt holds 4 elements of ES bytes.
                    b[k] = vfmaq_f32(b[k], unsafe { $ld(wt.as_ptr()) }, x0);
                }
            }
            std::array::from_fn(|k| vaddvq_f32(vaddq_f32(a[k], b[k])))
        }
    };
}

float_dot4!(dot4_f32, ld_f32, 4);
float_dot4!(dot4_f16, ld_f16, 2);
float_dot4!(dot4_bf16, ld_bf16, 2);

#[inline]
fn blocks(r: &[&[u8]; 4], x: &[f32], block_bytes: usize) -> usize {
    assert!(x.len().is_multiple_of(QK8_0), "cols not a block multiple");
    let nb = x.len() / QK8_0;
    for row in r {
        assert_eq!(row.len(), nb * block_bytes, "row length");
    }
    nb
}

/// The fp16 block scale at `p`, converted in registers: `half`'s conversion on aarch64 checks
/// for FEAT_FP16 at run time and calls out of line, which spilled the kernels' accumulators on
/// every block.
#[target_feature(enable = "neon")]
#[inline]
pub(crate) unsafe fn block_scale(p: *const u8) -> f32 {
    // SAFETY: the caller guarantees 2 readable bytes.
    let bits = unsafe { p.cast::<u16>().read_unaligned() };
    vgetq_lane_f32::<0>(widen_f16x4(vcreate_u16(bits as u64)))
}

/// 16 int8 weights × the block scale as four exact f32 vectors (q·d: 8-bit × 11-bit).
#[target_feature(enable = "neon")]
#[inline]
fn dequant16(w: int8x16_t, d: f32) -> [float32x4_t; 4] {
    let lo = vmovl_s8(vget_low_s8(w));
    let hi = vmovl_high_s8(w);
    let f = |v: int32x4_t| vmulq_n_f32(vcvtq_f32_s32(v), d);
    [
        f(vmovl_s16(vget_low_s16(lo))),
        f(vmovl_high_s16(lo)),
        f(vmovl_s16(vget_low_s16(hi))),
        f(vmovl_high_s16(hi)),
    ]
}

/// Block b of x as 8 vectors.
#[target_feature(enable = "neon")]
#[inline]
unsafe fn load_x(x: &[f32], b: usize) -> [float32x4_t; 8] {
    // SAFETY: the caller guarantees block b (32 floats) is in bounds.
    unsafe { std::array::from_fn(|j| vld1q_f32(x.as_ptr().add(b * QK8_0 + 4 * j))) }
}

/// One row's 32 exact weights accumulated as [`dot4_f32`] accumulates 32 columns (4-column
/// groups alternate between `a` and `b`): bit-identical to the dequantized f32 twin.
#[target_feature(enable = "neon")]
#[inline]
fn accumulate(
    w: [float32x4_t; 8],
    xs: &[float32x4_t; 8],
    a: &mut float32x4_t,
    b: &mut float32x4_t,
) {
    for j in (0..8).step_by(2) {
        *a = vfmaq_f32(*a, w[j], xs[j]);
        *b = vfmaq_f32(*b, w[j + 1], xs[j + 1]);
    }
}

#[target_feature(enable = "neon")]
pub(super) fn dot4_q8_0(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let nb = blocks(&r, x, Q8_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let (mut a, mut b) = ([vdupq_n_f32(0.0); 4], [vdupq_n_f32(0.0); 4]);
    for blk_i in 0..nb {
        // SAFETY: blk_i < nb: block blk_i of x (32 floats) and of each row (34 bytes) are in
        // bounds.
        unsafe {
            let xs = load_x(x, blk_i);
            for k in 0..4 {
                let blk = p[k].add(blk_i * Q8_0_BYTES);
                let d = block_scale(blk);
                let w0 = dequant16(vld1q_s8(blk.add(2).cast()), d);
                let w1 = dequant16(vld1q_s8(blk.add(18).cast()), d);
                let w = [w0[0], w0[1], w0[2], w0[3], w1[0], w1[1], w1[2], w1[3]];
                accumulate(w, &xs, &mut a[k], &mut b[k]);
            }
        }
    }
    std::array::from_fn(|k| vaddvq_f32(vaddq_f32(a[k], b[k])))
}

/// Q4_0: low nibbles are elements 0..16, high nibbles 16..32; minus 8, times d (exact).
#[target_feature(enable = "neon")]
pub(super) fn dot4_q4_0(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let nb = blocks(&r, x, Q4_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let (m4, eight) = (vdupq_n_u8(0x0f), vdupq_n_s8(8));
    let (mut a, mut b) = ([vdupq_n_f32(0.0); 4], [vdupq_n_f32(0.0); 4]);
    for blk_i in 0..nb {
        // SAFETY: blk_i < nb: block blk_i of x (32 floats) and of each row (18 bytes) are in
        // bounds.
        unsafe {
            let xs = load_x(x, blk_i);
            for k in 0..4 {
                let blk = p[k].add(blk_i * Q4_0_BYTES);
                let d = block_scale(blk);
                let q = vld1q_u8(blk.add(2));
                let lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, m4)), eight);
                let hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8::<4>(q)), eight);
                let (w0, w1) = (dequant16(lo, d), dequant16(hi, d));
                let w = [w0[0], w0[1], w0[2], w0[3], w1[0], w1[1], w1[2], w1[3]];
                accumulate(w, &xs, &mut a[k], &mut b[k]);
            }
        }
    }
    std::array::from_fn(|k| vaddvq_f32(vaddq_f32(a[k], b[k])))
}
