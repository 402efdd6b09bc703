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
                acc[k] = block_q8_0(blk, xq, dx, acc[k]);
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
    let mut acc = [_mm256_setzero_ps(); 4];
    for b in 0..nb {
        // SAFETY: as in `dot4_q8_0` (18-byte blocks).
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(b * QK8_0).cast());
            let dx = _mm256_set1_ps(*x.d.get_unchecked(b));
            let corr = nibble_offset(xq);
            for k in 0..4 {
                let blk = p[k].add(b * Q4_0_BYTES);
                prefetch(blk, ah);
                acc[k] = block_q4_0(blk, xq, corr, dx, acc[k]);
            }
        }
    }
    hsum4(acc)
}

/// One Q8_0 block of a row (at `blk`) against the activation block `xq` (scale `dx`): the
/// int32 lane sums, as floats times both scales, added to `acc`.
///
/// # Safety
/// 34 readable bytes at `blk`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn block_q8_0(blk: *const u8, xq: __m256i, dx: __m256, acc: __m256) -> __m256 {
    // SAFETY: the caller's 34 bytes.
    let wq = unsafe { _mm256_loadu_si256(blk.add(2).cast()) };
    // u8 × s8: |w| on the left, w's sign moved onto x.
    let zero = _mm256_setzero_si256();
    let i = _mm256_dpbusd_epi32(zero, _mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
    // SAFETY: as above.
    let d = unsafe { block_scale8(blk) };
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(d, dx), acc)
}

/// −8·Σx per int32 lane of an activation block: where a Q4_0 block's lanes start (the nibble
/// offset, shared by the rows).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub(super) fn nibble_offset(xq: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(8), _mm256_sub_epi8(zero, xq))
}

/// One Q4_0 block (see [`block_q8_0`]); `corr` holds [`nibble_offset`] (the nibble offset,
/// shared by the rows).
///
/// # Safety
/// 18 readable bytes at `blk`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn block_q4_0(
    blk: *const u8,
    xq: __m256i,
    corr: __m256i,
    dx: __m256,
    acc: __m256,
) -> __m256 {
    let m4 = _mm_set1_epi8(0x0f);
    // SAFETY: the caller's 18 bytes.
    let q = unsafe { _mm_loadu_si128(blk.add(2).cast()) };
    let lo = _mm_and_si128(q, m4);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), m4);
    let i = _mm256_dpbusd_epi32(corr, _mm256_set_m128i(hi, lo), xq);
    // SAFETY: as above.
    let d = unsafe { block_scale8(blk) };
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), _mm256_mul_ps(d, dx), acc)
}
