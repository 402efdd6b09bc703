//! AVX2 four-row dot products against an f32 activation: float weights are widened to f32,
//! Q8_0 / Q4_0 blocks are dequantized exactly in registers and accumulated in the F32 kernel's
//! lanes and order (so a quantized matrix matches its dequantized f32 twin bit for bit). Each
//! row keeps its own accumulators, so a row's result does not depend on its neighbours.

use std::arch::x86_64::*;

use super::{ahead, block_scale8, hsum4, prefetch};
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// 8 f32 weights at `p`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn ld_f32(p: *const u8) -> __m256 {
    // SAFETY: the caller guarantees 32 readable bytes.
    unsafe { _mm256_loadu_ps(p.cast()) }
}

/// 8 fp16 weights at `p`, widened.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn ld_f16(p: *const u8) -> __m256 {
    // SAFETY: the caller guarantees 16 readable bytes.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
}

/// 8 bf16 weights at `p`, widened (bf16 is the top half of an f32).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn ld_bf16(p: *const u8) -> __m256 {
    // SAFETY: the caller guarantees 16 readable bytes.
    let h = unsafe { _mm_loadu_si128(p.cast()) };
    _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
}

/// A four-row kernel over a float type of `$es` bytes per element loaded by `$ld`. Columns
/// go 16 at a time into two accumulators per row, then 8, then a zero-padded tail.
macro_rules! float_dot4 {
    ($name:ident, $ld:ident, $es:expr) => {
        #[target_feature(enable = "avx2,fma,f16c")]
        pub(super) fn $name(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
            const ES: usize = $es;
            let n = x.len();
            for row in &r {
                assert_eq!(row.len(), n * ES, "row length");
            }
            let p = r.map(|s| s.as_ptr());
            let ah = ahead(&r);
            let xp = x.as_ptr();
            let mut a = [_mm256_setzero_ps(); 4];
            let mut b = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 16 <= n {
                // SAFETY: i + 16 <= n, so elements i..i+16 of x and of each row (n·ES bytes,
                // asserted above) are in bounds.
                unsafe {
                    let x0 = _mm256_loadu_ps(xp.add(i));
                    let x1 = _mm256_loadu_ps(xp.add(i + 8));
                    for k in 0..4 {
                        prefetch(p[k].add(i * ES), ah);
                        a[k] = _mm256_fmadd_ps($ld(p[k].add(i * ES)), x0, a[k]);
                        b[k] = _mm256_fmadd_ps($ld(p[k].add((i + 8) * ES)), x1, b[k]);
                    }
                }
                i += 16;
            }
            if i + 8 <= n {
                // SAFETY: i + 8 <= n (as above).
                unsafe {
                    let x0 = _mm256_loadu_ps(xp.add(i));
                    for k in 0..4 {
                        a[k] = _mm256_fmadd_ps($ld(p[k].add(i * ES)), x0, a[k]);
                    }
                }
                i += 8;
            }
            if i < n {
                // Tail: copy the last n−i < 8 elements into zero-padded buffers.
                let mut xt = [0.0f32; 8];
                xt[..n - i].copy_from_slice(&x[i..]);
                // SAFETY: xt holds 8 floats.
                let x0 = unsafe { _mm256_loadu_ps(xt.as_ptr()) };
                for k in 0..4 {
                    let mut wt = [0u8; 8 * ES];
                    wt[..(n - i) * ES].copy_from_slice(&r[k][i * ES..]);
                    // SAFETY: wt holds 8 elements of ES bytes.
                    b[k] = _mm256_fmadd_ps(unsafe { $ld(wt.as_ptr()) }, x0, b[k]);
                }
            }
            hsum4(std::array::from_fn(|k| _mm256_add_ps(a[k], b[k])))
        }
    };
}

float_dot4!(dot4_f32, ld_f32, 4);
float_dot4!(dot4_f16, ld_f16, 2);
float_dot4!(dot4_bf16, ld_bf16, 2);

/// Checks a block-type row set against `x` and returns the block count.
#[inline]
fn blocks(r: &[&[u8]; 4], x: &[f32], block_bytes: usize) -> usize {
    assert!(x.len().is_multiple_of(QK8_0), "cols not a block multiple");
    let nb = x.len() / QK8_0;
    for row in r {
        assert_eq!(row.len(), nb * block_bytes, "row length");
    }
    nb
}

/// 8 sign-extended int8 weights at `p` as f32.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn ld_i8x8(p: *const u8) -> __m256 {
    // SAFETY: the caller guarantees 8 readable bytes.
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(unsafe { _mm_loadl_epi64(p.cast()) }))
}

/// One 32-column block of four rows, given each row's 32 weights as 4×8 exact f32 values
/// (`q·d` is exact: 8-bit × 11-bit significands), accumulated exactly as [`dot4_f32`]
/// accumulates 32 columns (columns 0–8 and 16–24 into `a`, 8–16 and 24–32 into `b`): a
/// quantized matrix gives the same bits as its dequantized f32 twin.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn block4(w: [[__m256; 4]; 4], xs: &[__m256; 4], a: &mut [__m256; 4], b: &mut [__m256; 4]) {
    for k in 0..4 {
        a[k] = _mm256_fmadd_ps(w[k][0], xs[0], a[k]);
        b[k] = _mm256_fmadd_ps(w[k][1], xs[1], b[k]);
        a[k] = _mm256_fmadd_ps(w[k][2], xs[2], a[k]);
        b[k] = _mm256_fmadd_ps(w[k][3], xs[3], b[k]);
    }
}

/// Q8_0: w = q·d (exact), accumulated like F32.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dot4_q8_0(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let nb = blocks(&r, x, Q8_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let (mut a, mut b) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
    for blk_i in 0..nb {
        // SAFETY: blk_i < nb: block blk_i of x (32 floats) and of each row (34 bytes, nb·34
        // checked by `blocks`) are in bounds.
        unsafe {
            let xp = x.as_ptr().add(blk_i * QK8_0);
            let xs = [0, 8, 16, 24].map(|o| _mm256_loadu_ps(xp.add(o)));
            let mut w = [[_mm256_setzero_ps(); 4]; 4];
            for k in 0..4 {
                let blk = p[k].add(blk_i * Q8_0_BYTES);
                prefetch(blk, ah);
                let d = block_scale8(blk);
                for (j, wj) in w[k].iter_mut().enumerate() {
                    *wj = _mm256_mul_ps(ld_i8x8(blk.add(2 + 8 * j)), d);
                }
            }
            block4(w, &xs, &mut a, &mut b);
        }
    }
    hsum4(std::array::from_fn(|k| _mm256_add_ps(a[k], b[k])))
}

/// Q4_0: w = (nibble − 8)·d (exact; low nibble = element j, high = j + 16), accumulated like
/// F32.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dot4_q4_0(r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
    let nb = blocks(&r, x, Q4_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let (m4, eight) = (_mm_set1_epi8(0x0f), _mm_set1_epi8(8));
    let (mut a, mut b) = ([_mm256_setzero_ps(); 4], [_mm256_setzero_ps(); 4]);
    for blk_i in 0..nb {
        // SAFETY: blk_i < nb: block blk_i of x (32 floats) and of each row (18 bytes) are in
        // bounds.
        unsafe {
            let xp = x.as_ptr().add(blk_i * QK8_0);
            let xs = [0, 8, 16, 24].map(|o| _mm256_loadu_ps(xp.add(o)));
            let mut w = [[_mm256_setzero_ps(); 4]; 4];
            for k in 0..4 {
                let blk = p[k].add(blk_i * Q4_0_BYTES);
                prefetch(blk, ah);
                let d = block_scale8(blk);
                let q = _mm_loadu_si128(blk.add(2).cast());
                let lo = _mm_sub_epi8(_mm_and_si128(q, m4), eight);
                let hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16::<4>(q), m4), eight);
                let f = |v: __m128i| _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)), d);
                w[k] = [
                    f(lo),
                    f(_mm_srli_si128::<8>(lo)),
                    f(hi),
                    f(_mm_srli_si128::<8>(hi)),
                ];
            }
            block4(w, &xs, &mut a, &mut b);
        }
    }
    hsum4(std::array::from_fn(|k| _mm256_add_ps(a[k], b[k])))
}
