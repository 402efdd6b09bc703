//! AVX2 tile products of the block attention (`cpu::attn_block`): scores as 4 queries × 2 keys
//! (8 accumulators over the head dimension, reduced together), weighted values as 4 queries ×
//! 16 output lanes held across the tile. The head dimension is a multiple of 8.

use std::arch::x86_64::*;

use super::attn::hsum8;
use crate::cpu::attn::f16;
use crate::cpu::attn_block::{TILE, TileMath};

/// The AVX2 + FMA + F16C products. Only used inside `#[target_feature(enable =
/// "avx2,fma,f16c")]` code that checked the CPU (`x86::ops::attend_block`).
pub(crate) struct Avx2Tiles;

impl TileMath for Avx2Tiles {
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
        let vs = unsafe_splat(scale);
        for j0 in (0..nq).step_by(4) {
            // Past nq, repeat the last query (its scores are not stored).
            let qs: [&[f32]; 4] = std::array::from_fn(|b| query((j0 + b).min(nq - 1)));
            assert!(qs.iter().all(|q| q.len() >= hd));
            for t0 in (0..tl).step_by(2) {
                // An odd last key pairs with itself (its second score is not stored).
                let t1 = (t0 + 1).min(tl - 1);
                let mut acc = [zero(); 8];
                for c in (0..hd).step_by(8) {
                    // SAFETY: c + 8 <= hd; rows t0, t1 < tl hold hd floats (asserted above);
                    // every query holds hd floats; the caller has AVX2 + FMA.
                    unsafe {
                        let k0 = _mm256_loadu_ps(k.as_ptr().add(t0 * stride + c));
                        let k1 = _mm256_loadu_ps(k.as_ptr().add(t1 * stride + c));
                        for (b, q) in qs.iter().enumerate() {
                            let qv = _mm256_loadu_ps(q.as_ptr().add(c));
                            acc[2 * b] = _mm256_fmadd_ps(qv, k0, acc[2 * b]);
                            acc[2 * b + 1] = _mm256_fmadd_ps(qv, k1, acc[2 * b + 1]);
                        }
                    }
                }
                // SAFETY: AVX2 (caller).
                let sums = unsafe { _mm256_mul_ps(hsum8(acc), vs) };
                let mut lanes = [0.0f32; 8];
                // SAFETY: 8 floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sums) };
                for b in 0..4.min(nq - j0) {
                    s[(j0 + b) * TILE + t0] = lanes[2 * b];
                    if t0 + 1 < tl {
                        s[(j0 + b) * TILE + t0 + 1] = lanes[2 * b + 1];
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
            let mut c = 0;
            while c < hd {
                let two = c + 16 <= hd;
                let mut acc = [zero(); 8];
                // SAFETY (all blocks below): columns c..c+8 (c+16 when `two`) are inside the
                // head; rows t < tl of v hold hd floats; rows j0+b < nq of out hold hd floats;
                // sp rows hold TILE >= tl floats; the caller has AVX2 + FMA.
                unsafe {
                    for b in 0..jb {
                        let o = out.as_ptr().add((j0 + b) * hd + c);
                        acc[2 * b] = _mm256_loadu_ps(o);
                        if two {
                            acc[2 * b + 1] = _mm256_loadu_ps(o.add(8));
                        }
                    }
                    for t in 0..tl {
                        let vp = v.as_ptr().add(t * stride + c);
                        let v0 = _mm256_loadu_ps(vp);
                        let v1 = if two { _mm256_loadu_ps(vp.add(8)) } else { v0 };
                        for (b, &p) in sp.iter().enumerate() {
                            let pb = _mm256_broadcast_ss(&*p.add(t));
                            acc[2 * b] = _mm256_fmadd_ps(pb, v0, acc[2 * b]);
                            acc[2 * b + 1] = _mm256_fmadd_ps(pb, v1, acc[2 * b + 1]);
                        }
                    }
                    for b in 0..jb {
                        let o = out.as_mut_ptr().add((j0 + b) * hd + c);
                        _mm256_storeu_ps(o, acc[2 * b]);
                        if two {
                            _mm256_storeu_ps(o.add(8), acc[2 * b + 1]);
                        }
                    }
                }
                c += if two { 16 } else { 8 };
            }
        }
    }

    #[inline(always)]
    fn widen(src: &[f16], dst: &mut [f32]) {
        assert!(src.len() == dst.len() && src.len().is_multiple_of(8));
        for (i, o) in dst.chunks_exact_mut(8).enumerate() {
            // SAFETY: 8 halves at 8·i and 8 floats in `o` (asserted); F16C (caller).
            unsafe {
                let h = _mm_loadu_si128(src.as_ptr().add(8 * i).cast());
                _mm256_storeu_ps(o.as_mut_ptr(), _mm256_cvtph_ps(h));
            }
        }
    }
}

#[inline(always)]
fn zero() -> __m256 {
    // SAFETY: AVX (every caller runs under the AVX2 target feature).
    unsafe { _mm256_setzero_ps() }
}

#[inline(always)]
fn unsafe_splat(x: f32) -> __m256 {
    // SAFETY: AVX (as above).
    unsafe { _mm256_set1_ps(x) }
}
