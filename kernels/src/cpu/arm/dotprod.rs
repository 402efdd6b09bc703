//! NEON + dotprod int8 kernels: SDOT (four int8 products summed into each int32 lane, exact).
//! `vdotq_s32` is unstable in Rust, so SDOT is emitted with inline asm in functions compiled
//! with the `dotprod` target feature; they are reached only through a [`super::Dotprod`] proof.

use std::arch::aarch64::*;
use std::arch::asm;

use super::matvec::block_scale;
use super::q8::{blocks, q4_weights, q8_weights};
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

macro_rules! sdot_dot4 {
    ($name:ident, $bytes:expr, $weights:expr) => {
        #[target_feature(enable = "neon,dotprod")]
        pub(super) fn $name(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
            let nb = blocks(&r, &x, $bytes);
            let p = r.map(|s| s.as_ptr());
            let mut acc = [vdupq_n_f32(0.0); 4];
            for b in 0..nb {
                // SAFETY: b < nb: block b of the activation (32 bytes) and of each row are in
                // bounds (checked by `blocks`).
                unsafe {
                    let xp = x.qs.as_ptr().add(b * QK8_0);
                    let (x0, x1) = (vld1q_s8(xp), vld1q_s8(xp.add(16)));
                    let dx = *x.d.get_unchecked(b);
                    for k in 0..4 {
                        let blk = p[k].add(b * $bytes);
                        let (w0, w1) = $weights(blk);
                        let i = sdot(sdot(vdupq_n_s32(0), w0, x0), w1, x1);
                        acc[k] = vfmaq_n_f32(acc[k], vcvtq_f32_s32(i), block_scale(blk) * dx);
                    }
                }
            }
            acc.map(|a| vaddvq_f32(a))
        }
    };
}

sdot_dot4!(dot4_q8_0, Q8_0_BYTES, q8_weights);
sdot_dot4!(dot4_q4_0, Q4_0_BYTES, q4_weights);
