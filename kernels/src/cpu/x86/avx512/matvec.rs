//! AVX-512 four-row dot products against an f32 activation (16 lanes; masked tails).

use std::arch::x86_64::*;

use crate::cpu::x86::avx2::{ahead, prefetch};
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// 16 f32 weights at `p` (lanes outside `m` read as 0 and are not accessed).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
unsafe fn ld_f32(p: *const u8, m: __mmask16) -> __m512 {
    // SAFETY: the caller guarantees the bytes of the lanes in `m` are readable.
    unsafe { _mm512_maskz_loadu_ps(m, p.cast()) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
unsafe fn ld_f16(p: *const u8, m: __mmask16) -> __m512 {
    // SAFETY: as for `ld_f32`.
    _mm512_cvtph_ps(unsafe { _mm256_maskz_loadu_epi16(m, p.cast()) })
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
unsafe fn ld_bf16(p: *const u8, m: __mmask16) -> __m512 {
    // SAFETY: as for `ld_f32`.
    let h = unsafe { _mm256_maskz_loadu_epi16(m, p.cast()) };
    _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
}

const ALL: __mmask16 = 0xffff;

/// The fp16 block scale at `p` in all 16 lanes (broadcast, then convert: no merging insert).
///
/// # Safety
/// `p` must be valid for reading 2 bytes.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
unsafe fn block_scale16(p: *const u8) -> __m512 {
    // SAFETY: the caller guarantees 2 readable bytes.
    let bits = unsafe { p.cast::<i16>().read_unaligned() };
    _mm512_cvtph_ps(_mm256_set1_epi16(bits))
}

/// A four-row kernel over a float type (see the AVX2 one): 32 columns per step in two
/// accumulators per row, then 16, then one masked step for the tail.
macro_rules! float_dot4 {
    ($name:ident, $ld:ident, $es:expr) => {
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
        pub(super) fn $name(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
            const ES: usize = $es;
            let n = x.len();
            for row in &r {
                assert_eq!(row.len(), n * ES, "row length");
            }
            let p = r.map(|s| s.as_ptr());
            let ah = ahead(&r);
            let xp = x.as_ptr();
            let mut a = [_mm512_setzero_ps(); 4];
            let mut b = [_mm512_setzero_ps(); 4];
            let mut i = 0;
            while i + 32 <= n {
                // SAFETY: i + 32 <= n: elements i..i+32 of x and of each row are in bounds.
                unsafe {
                    let x0 = _mm512_loadu_ps(xp.add(i));
                    let x1 = _mm512_loadu_ps(xp.add(i + 16));
                    for k in 0..4 {
                        prefetch(p[k].add(i * ES), ah);
                        a[k] = _mm512_fmadd_ps($ld(p[k].add(i * ES), ALL), x0, a[k]);
                        b[k] = _mm512_fmadd_ps($ld(p[k].add((i + 16) * ES), ALL), x1, b[k]);
                    }
                }
                i += 32;
            }
            if i + 16 <= n {
                // SAFETY: i + 16 <= n (as above).
                unsafe {
                    let x0 = _mm512_loadu_ps(xp.add(i));
                    for k in 0..4 {
                        a[k] = _mm512_fmadd_ps($ld(p[k].add(i * ES), ALL), x0, a[k]);
                    }
                }
                i += 16;
            }
            if i < n {
                let m: __mmask16 = (1u16 << (n - i)) - 1;
                // SAFETY: the mask covers exactly elements i..n, which are in bounds; masked
                // lanes are not read.
                unsafe {
                    let x0 = _mm512_maskz_loadu_ps(m, xp.add(i));
                    for k in 0..4 {
                        b[k] = _mm512_fmadd_ps($ld(p[k].add(i * ES), m), x0, b[k]);
                    }
                }
            }
            std::array::from_fn(|k| _mm512_reduce_add_ps(_mm512_add_ps(a[k], b[k])))
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

/// Q8_0: w = q·d (exact: 8-bit × 11-bit significands), columns 0–16 into `a` and 16–32 into
/// `b` — exactly how [`dot4_f32`] accumulates 32 columns, so a quantized matrix gives the same
/// bits as its dequantized f32 twin.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) fn dot4_q8_0(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let nb = blocks(&r, x, Q8_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let f = |v: __m128i, d: __m512| _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), d);
    let (mut a, mut b) = ([_mm512_setzero_ps(); 4], [_mm512_setzero_ps(); 4]);
    for blk_i in 0..nb {
        // SAFETY: blk_i < nb: block blk_i of x (32 floats) and of each row (34 bytes) are in
        // bounds.
        unsafe {
            let xp = x.as_ptr().add(blk_i * QK8_0);
            let (x0, x1) = (_mm512_loadu_ps(xp), _mm512_loadu_ps(xp.add(16)));
            for k in 0..4 {
                let blk = p[k].add(blk_i * Q8_0_BYTES);
                prefetch(blk, ah);
                let d = block_scale16(blk);
                a[k] = _mm512_fmadd_ps(f(_mm_loadu_si128(blk.add(2).cast()), d), x0, a[k]);
                b[k] = _mm512_fmadd_ps(f(_mm_loadu_si128(blk.add(18).cast()), d), x1, b[k]);
            }
        }
    }
    std::array::from_fn(|k| _mm512_reduce_add_ps(_mm512_add_ps(a[k], b[k])))
}

/// Q4_0: w = (nibble − 8)·d (exact; low nibbles are elements 0..16, high 16..32), accumulated
/// like F32 (see [`dot4_q8_0`]). A block's 16 possible weights are one vector, `[−8..8)·d`
/// (one multiply per block instead of two per 32 weights), and `vpermps` looks each weight up
/// by its nibble: it reads only an index's low 4 bits, so the low nibbles need no mask and the
/// high ones one shift. Same products as converting and scaling each weight.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) fn dot4_q4_0(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let nb = blocks(&r, x, Q4_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let levels = _mm512_setr_ps(
        -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0,
    );
    let (mut a, mut b) = ([_mm512_setzero_ps(); 4], [_mm512_setzero_ps(); 4]);
    for blk_i in 0..nb {
        // SAFETY: blk_i < nb: block blk_i of x (32 floats) and of each row (18 bytes) are in
        // bounds.
        unsafe {
            let xp = x.as_ptr().add(blk_i * QK8_0);
            let (x0, x1) = (_mm512_loadu_ps(xp), _mm512_loadu_ps(xp.add(16)));
            for k in 0..4 {
                let blk = p[k].add(blk_i * Q4_0_BYTES);
                prefetch(blk, ah);
                let table = _mm512_mul_ps(levels, block_scale16(blk));
                let q = _mm512_cvtepu8_epi32(_mm_loadu_si128(blk.add(2).cast()));
                let lo = _mm512_permutexvar_ps(q, table);
                let hi = _mm512_permutexvar_ps(_mm512_srli_epi32::<4>(q), table);
                a[k] = _mm512_fmadd_ps(lo, x0, a[k]);
                b[k] = _mm512_fmadd_ps(hi, x1, b[k]);
            }
        }
    }
    std::array::from_fn(|k| _mm512_reduce_add_ps(_mm512_add_ps(a[k], b[k])))
}
