//! AVX2 + FMA + F16C kernels (256-bit). Every `#[target_feature]` function here is reached
//! only through an [`Avx2`] token (or an [`super::Avx512`] one, which implies it).

pub(super) mod attn;
pub(super) mod attn_block;
pub(super) mod conv;
pub(super) mod exp;
mod matvec;
pub(super) mod norm;
pub(super) mod q8;
pub(super) mod scan;
pub(super) mod ssm;

pub(super) use q8::quantize_q8;

use std::arch::x86_64::*;

use super::Avx2;
use crate::cpu::matvec_q8::Q8Row;
use crate::cpu::rows::{Dot4F, Dot4Q};
use crate::dtype::GgmlType;

/// The f32-activation four-row kernel for `ty`.
pub(super) fn dot4_f32act(_: Avx2, ty: GgmlType) -> Option<Dot4F> {
    let f: unsafe fn([&[u8]; 4], &[f32]) -> [f32; 4] = match ty {
        GgmlType::F32 => matvec::dot4_f32,
        GgmlType::F16 => matvec::dot4_f16,
        GgmlType::BF16 => matvec::dot4_bf16,
        GgmlType::Q8_0 => matvec::dot4_q8_0,
        GgmlType::Q4_0 => matvec::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: the `Avx2` token proves AVX2, FMA and F16C, all these kernels need.
    Some(unsafe { Dot4F::new(f) })
}

/// The int8-activation four-row kernel for `ty`.
pub(super) fn dot4_q8act(_: Avx2, ty: GgmlType) -> Option<Dot4Q> {
    let f: unsafe fn([&[u8]; 4], Q8Row) -> [f32; 4] = match ty {
        GgmlType::Q8_0 => q8::dot4_q8_0,
        GgmlType::Q4_0 => q8::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: as above.
    Some(unsafe { Dot4Q::new(f) })
}

/// How far ahead (bytes) a four-row kernel prefetches each row's stream: the same
/// offset in the next block of four rows, `4 × row bytes` on (the drivers walk contiguous rows
/// block by block, so every line fetched is one the next call reads). The hardware prefetchers
/// alone leave the kernels latency-bound from DRAM, and a fixed lead shorter than four rows
/// lands in rows this block is already streaming: 3 KB ahead ran 19–25 GB/s on one core where
/// the next block runs 28–38 (int8 matvec, rows of 0.8–8.7 KB). Short rows look as many
/// blocks ahead as it takes to be at least [`MIN_LEAD`] bytes ahead. Rows over 32 KiB keep a
/// fixed 3 KB lead: 16 rows' worth of lines in flight would crowd L2.
#[inline]
pub(crate) fn ahead(r: &[&[u8]; 4]) -> usize {
    let block = 4 * r[0].len();
    if block == 0 {
        0
    } else if block <= 128 << 10 {
        block * MIN_LEAD.div_ceil(block)
    } else {
        3072
    }
}

/// The shortest prefetch lead, in bytes. One block of four Q4_0 rows of 768 columns is only
/// 1.7 KB: too close to hide DRAM latency. On the Zen 4 VM, 8 KB ahead took the int8 Q4_0
/// matvec of a 768×1536 matrix from 14.5–15.8 to 17.2–18.9 GB/s on one core (criterion,
/// alternating runs) and decode of llama-124m Q4_0 from 219–261 to 266–299 tok/s; leads of
/// 6–16 KB measured alike, rows of 2 KB and more (mamba2-130m Q8_0's) changed within noise.
const MIN_LEAD: usize = 8 << 10;

/// Prefetch the weight line `ahead` bytes past `p` (a hint: never faults) into L2, not L1.
/// The lead is a whole block of rows, far more lines than L1's miss buffers hold: an L1 hint
/// (T0, or NTA, which also fills L1 on AMD) stalls on them and leaves the kernels
/// latency-bound. On a 2-core Zen 4 VM the int8 matvec from DRAM ran 11–18 GB/s with NTA and
/// 19–24 with T1 on one core (criterion `matvec/Q8_0-i8/…/avx512-vbmi/1t`), and decode went
/// from 114–122 to 156–196 tok/s on mamba2-130m Q8_0 (alternating runs, bench/README.md). On the
/// Zen 5 host of the earlier tables NTA was 2–6 % faster end to end (it kept the recurrent
/// state in the outer caches) with matvec alone unchanged: much less than it costs here.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn prefetch(p: *const u8, ahead: usize) {
    _mm_prefetch::<_MM_HINT_T1>(p.wrapping_add(ahead).cast());
}

/// Horizontal sums of four vectors: `[Σa, Σb, Σc, Σd]`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn hsum4(v: [__m256; 4]) -> [f32; 4] {
    let h01 = _mm256_hadd_ps(v[0], v[1]);
    let h23 = _mm256_hadd_ps(v[2], v[3]);
    let h = _mm256_hadd_ps(h01, h23);
    let s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h));
    let mut out = [0.0f32; 4];
    // SAFETY: `out` holds exactly the 4 floats stored.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), s) };
    out
}

/// Horizontal max of one vector.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) fn hmax(v: __m256) -> f32 {
    let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)))
}

/// The fp16 scale at `p` (start of a Q8_0 / Q4_0 block) in all 8 lanes. Broadcasting the
/// bits before converting avoids a merging insert (`vpinsrw` into a live register), which
/// would chain every block behind the previous block's accumulator update.
///
/// # Safety
/// `p` must be valid for reading 2 bytes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(crate) unsafe fn block_scale8(p: *const u8) -> __m256 {
    // SAFETY: the caller guarantees 2 readable bytes.
    let bits = unsafe { p.cast::<i16>().read_unaligned() };
    _mm256_cvtph_ps(_mm_set1_epi16(bits))
}
