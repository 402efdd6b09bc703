//! NEON tile products of the block attention (`cpu::attn_block`): scores as 4 queries × 2 keys
//! (8 accumulators of 4 lanes over the head dimension), weighted values as 4 queries × 8
//! output lanes held across the tile. The head dimension is a multiple of 8.

use std::arch::aarch64::*;

use super::matvec::ld_f16;
use crate::cpu::attn::f16;
use crate::cpu::attn_block::{TILE, TileMath};

/// The NEON products (NEON is part of the aarch64 baseline).
pub(crate) struct NeonTiles;

impl TileMath for NeonTiles {
    #[inline(always)]
    fn scores<'q>(
        query: &impl Fn(usize) -> &'q [f32],
        nq: usize,
        hd: usize,
        k: &[f32],
        stride: usize,
        tl: usize,
        scale: f32,
        s: &mut [f32],
    ) {
        assert!(hd.is_multiple_of(8) && s.len() >= nq * TILE);
        assert!(tl > 0 && k.len() >= (tl - 1) * stride + hd);
        for j0 in (0..nq).step_by(4) {
            // Past nq, repeat the last query (its scores are not stored).
            let qs: [&[f32]; 4] = std::array::from_fn(|b| query((j0 + b).min(nq - 1)));
            assert!(qs.iter().all(|q| q.len() >= hd));
            for t0 in (0..tl).step_by(2) {
                // An odd last key pairs with itself (its second score is not stored).
                let t1 = (t0 + 1).min(tl - 1);
                // SAFETY: c + 4 <= hd; rows t0, t1 < tl hold hd floats and every query holds
                // hd floats (asserted above); NEON is baseline.
                let sums = unsafe {
                    let mut acc = [vdupq_n_f32(0.0); 8];
                    for c in (0..hd).step_by(4) {
                        let k0 = vld1q_f32(k.as_ptr().add(t0 * stride + c));
                        let k1 = vld1q_f32(k.as_ptr().add(t1 * stride + c));
                        for (b, q) in qs.iter().enumerate() {
                            let qv = vld1q_f32(q.as_ptr().add(c));
                            acc[2 * b] = vfmaq_f32(acc[2 * b], qv, k0);
                            acc[2 * b + 1] = vfmaq_f32(acc[2 * b + 1], qv, k1);
                        }
                    }
                    acc.map(|a| vaddvq_f32(a) * scale)
                };
                for b in 0..4.min(nq - j0) {
                    s[(j0 + b) * TILE + t0] = sums[2 * b];
                    if t0 + 1 < tl {
                        s[(j0 + b) * TILE + t0 + 1] = sums[2 * b + 1];
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn weighted_values(
        s: &[f32],
        nq: usize,
        hd: usize,
        v: &[f32],
        stride: usize,
        tl: usize,
        out: &mut [f32],
    ) {
        assert!(hd.is_multiple_of(8) && s.len() >= nq * TILE && out.len() >= nq * hd);
        assert!(tl > 0 && v.len() >= (tl - 1) * stride + hd);
        for j0 in (0..nq).step_by(4) {
            let jb = 4.min(nq - j0);
            // Rows of s for the 4 queries (the last repeated past nq; not stored).
            let sp: [*const f32; 4] =
                std::array::from_fn(|b| s[(j0 + b.min(jb - 1)) * TILE..].as_ptr());
            for c in (0..hd).step_by(8) {
                // SAFETY: columns c..c+8 are inside the head; rows t < tl of v hold hd floats;
                // rows j0+b < nq of out hold hd floats; sp rows hold TILE >= tl floats.
                unsafe {
                    let mut acc = [vdupq_n_f32(0.0); 8];
                    for b in 0..jb {
                        let o = out.as_ptr().add((j0 + b) * hd + c);
                        acc[2 * b] = vld1q_f32(o);
                        acc[2 * b + 1] = vld1q_f32(o.add(4));
                    }
                    for t in 0..tl {
                        let vp = v.as_ptr().add(t * stride + c);
                        let (v0, v1) = (vld1q_f32(vp), vld1q_f32(vp.add(4)));
                        for (b, &p) in sp.iter().enumerate() {
                            let pb = vdupq_n_f32(*p.add(t));
                            acc[2 * b] = vfmaq_f32(acc[2 * b], pb, v0);
                            acc[2 * b + 1] = vfmaq_f32(acc[2 * b + 1], pb, v1);
                        }
                    }
                    for b in 0..jb {
                        let o = out.as_mut_ptr().add((j0 + b) * hd + c);
                        vst1q_f32(o, acc[2 * b]);
                        vst1q_f32(o.add(4), acc[2 * b + 1]);
                    }
                }
            }
        }
    }

    /// f16 rows widened 4 at a time with FCVTL: `half`'s slice conversion checks FEAT_FP16 at
    /// run time and calls out of line per 4 elements on aarch64.
    #[inline(always)]
    fn widen(src: &[f16], dst: &mut [f32]) {
        assert!(src.len() == dst.len() && src.len().is_multiple_of(4));
        for (i, o) in dst.chunks_exact_mut(4).enumerate() {
            // SAFETY: 4 halves at 4·i and 4 floats in `o` (asserted); NEON is baseline.
            unsafe { vst1q_f32(o.as_mut_ptr(), ld_f16(src.as_ptr().add(4 * i).cast())) };
        }
    }
}
