//! AVX-512 VNNI int8 path: `vpdpbusd` (u8 × s8 → i32, four products per lane, no
//! saturation) on 256-bit vectors, one block per instruction.

use std::arch::x86_64::*;

use crate::cpu::matvec_q8::Q8Row;
use crate::cpu::x86::avx2::{ahead, block_scale8, hsum4, prefetch, q8::blocks};
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) fn dot4_q8_0(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
    let nb = blocks(&r, &x, Q8_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let zero = _mm256_setzero_si256();
    let mut acc = [_mm256_setzero_ps(); 4];
    for b in 0..nb {
        // SAFETY: b < nb: block b of the activation (32 bytes) and of each row (34 bytes)
        // are in bounds (checked by `blocks`).
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(b * QK8_0).cast());
            let dx = _mm256_set1_ps(*x.d.get_unchecked(b));
            for k in 0..4 {
                let blk = p[k].add(b * Q8_0_BYTES);
                prefetch(blk, ah);
                let wq = _mm256_loadu_si256(blk.add(2).cast());
                // u8 × s8: |w| on the left, w's sign moved onto x.
                let i =
                    _mm256_dpbusd_epi32(zero, _mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
                let s = _mm256_cvtepi32_ps(i);
                acc[k] = _mm256_fmadd_ps(s, _mm256_mul_ps(block_scale8(blk), dx), acc[k]);
            }
        }
    }
    hsum4(acc)
}

/// Q4_0: unsigned nibbles × q_x, accumulated onto −8·Σq_x per lane (the nibble offset, shared
/// by the 4 rows), so each lane holds exactly Σ(nib − 8)·q_x.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) fn dot4_q4_0(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
    let nb = blocks(&r, &x, Q4_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let m4 = _mm_set1_epi8(0x0f);
    let (zero, eights) = (_mm256_setzero_si256(), _mm256_set1_epi8(8));
    let mut acc = [_mm256_setzero_ps(); 4];
    for b in 0..nb {
        // SAFETY: as in `dot4_q8_0` (18-byte blocks).
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(b * QK8_0).cast());
            let dx = _mm256_set1_ps(*x.d.get_unchecked(b));
            let corr = _mm256_dpbusd_epi32(zero, eights, _mm256_sub_epi8(zero, xq));
            for k in 0..4 {
                let blk = p[k].add(b * Q4_0_BYTES);
                prefetch(blk, ah);
                let q = _mm_loadu_si128(blk.add(2).cast());
                let lo = _mm_and_si128(q, m4);
                let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), m4);
                let i = _mm256_dpbusd_epi32(corr, _mm256_set_m128i(hi, lo), xq);
                let s = _mm256_cvtepi32_ps(i);
                acc[k] = _mm256_fmadd_ps(s, _mm256_mul_ps(block_scale8(blk), dx), acc[k]);
            }
        }
    }
    hsum4(acc)
}
