//! The NEON int8 four-row kernels' shared frame: each row's block product is summed into one
//! int32 (a pairwise-add tree folds the four rows' lanes into `[r0 r1 r2 r3]`), and the block
//! is added in f32 as `(d_w·d_x)·isum`, in block order, without fusing. That is the scalar
//! reference's arithmetic, so the kernels equal it bit for bit. It also costs fewer vector
//! operations than f32 partial sums per row: one conversion, one scale product and one add per
//! block for all four rows instead of one convert and one multiply-add per row, and the four
//! fp16 scales are packed in a general register and widened by one FCVTL.

use std::arch::aarch64::*;

use super::matvec::widen_f16x4;

/// The four rows' fp16 block scales at byte offset `off`, widened to f32 (exact).
#[target_feature(enable = "neon")]
#[inline]
pub(super) unsafe fn scales4(p: &[*const u8; 4], off: usize) -> float32x4_t {
    // SAFETY: the caller guarantees 2 readable bytes at `off` in each row.
    let h = p.map(|r| unsafe { r.add(off).cast::<u16>().read_unaligned() } as u64);
    widen_f16x4(vcreate_u16(h[0] | h[1] << 16 | h[2] << 32 | h[3] << 48))
}

/// `[Σr0, Σr1, Σr2, Σr3]` of four rows' int32 lanes (exact).
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn row_sums(l: [int32x4_t; 4]) -> int32x4_t {
    vpaddq_s32(vpaddq_s32(l[0], l[1]), vpaddq_s32(l[2], l[3]))
}

/// `acc + (d_w·d_x)·isum` per row: the reference's two roundings, in its order.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn add_block(
    acc: float32x4_t,
    dw: float32x4_t,
    dx: f32,
    isum: int32x4_t,
) -> float32x4_t {
    vaddq_f32(acc, vmulq_f32(vmulq_n_f32(dw, dx), vcvtq_f32_s32(isum)))
}

/// No offset to take off (Q8_0, and Q4_0 weights already made signed).
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn no_offset(_: int8x16_t, _: int8x16_t) -> int32x4_t {
    vdupq_n_s32(0)
}

/// A four-row kernel `$name` (target features `$feat`) over blocks of `$bytes` bytes:
/// `$lanes(block, x0, x1)` gives one row's block product in four int32 lanes, and
/// `$offset(x0, x1)` what to take off each row's sum (in every lane).
macro_rules! rowsum_dot4 {
    ($name:ident, $feat:literal, $bytes:expr, $lanes:path, $offset:path) => {
        #[target_feature(enable = $feat)]
        pub(super) fn $name(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
            use super::rowsum::{add_block, row_sums, scales4};
            let nb = blocks(&r, &x, $bytes);
            let p = r.map(|s| s.as_ptr());
            let mut acc = vdupq_n_f32(0.0);
            for b in 0..nb {
                // SAFETY: b < nb: block b of the activation (32 bytes) and of each row are in
                // bounds (checked by `blocks`).
                unsafe {
                    let xp = x.qs.as_ptr().add(b * QK8_0);
                    let (x0, x1) = (vld1q_s8(xp), vld1q_s8(xp.add(16)));
                    let lanes = p.map(|row| $lanes(row.add(b * $bytes), x0, x1));
                    let isum = vsubq_s32(row_sums(lanes), $offset(x0, x1));
                    let dx = *x.d.get_unchecked(b);
                    acc = add_block(acc, scales4(&p, b * $bytes), dx, isum);
                }
            }
            let mut out = [0.0f32; 4];
            // SAFETY: `out` holds 4 floats.
            unsafe { vst1q_f32(out.as_mut_ptr(), acc) };
            out
        }
    };
}
pub(super) use rowsum_dot4;
