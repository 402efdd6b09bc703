//! AVX2 int8 path: the activation quantizer and the Q8_0 / Q4_0 four-row kernels against a
//! quantized activation (`maddubs` + `madd`: exact int32 block sums, as ggml does).

use std::arch::x86_64::*;

use super::{Avx2, ahead, hmax, prefetch};
use crate::cpu::matvec_q8::Q8Row;
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0};

/// Quantize `x` into blocks of 32: identical bytes to the scalar reference (the scale is the
/// same f32 division, `x·(1/d)` is one rounding either way, and rounding is ties-to-even).
pub(in crate::cpu::x86) fn quantize_q8(_: Avx2, x: &[f32], qs: &mut [i8], d: &mut [f32]) {
    // SAFETY: the `Avx2` token proves the features.
    unsafe { quantize_q8_k(x, qs, d) }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn quantize_q8_k(x: &[f32], qs: &mut [i8], d: &mut [f32]) {
    let nb = x.len() / QK8_0;
    assert!(qs.len() == x.len() && d.len() == nb && x.len().is_multiple_of(QK8_0));
    let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (b, db) in d.iter_mut().enumerate() {
        // SAFETY: b < nb: 32 floats of x and 32 bytes of qs from b·32 are in bounds.
        unsafe {
            let xp = x.as_ptr().add(b * QK8_0);
            let v = [0, 8, 16, 24].map(|o| _mm256_loadu_ps(xp.add(o)));
            let a = v.map(|v| _mm256_and_ps(v, abs_mask));
            let m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
            let scale = hmax(m) / 127.0;
            let id = _mm256_set1_ps(if scale != 0.0 { 1.0 / scale } else { 0.0 });
            const RN: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
            let q = v.map(|v| _mm256_cvtps_epi32(_mm256_round_ps::<RN>(_mm256_mul_ps(v, id))));
            // packs work per 128-bit lane; the permute restores element order.
            let p16 = [
                _mm256_packs_epi32(q[0], q[1]),
                _mm256_packs_epi32(q[2], q[3]),
            ];
            let p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16[0], p16[1]), order);
            _mm256_storeu_si256(qs.as_mut_ptr().add(b * QK8_0).cast(), p8);
            *db = scale;
        }
    }
}

/// Checks a row set against the activation and returns the block count.
#[inline]
pub(crate) fn blocks(r: &[&[u8]; 4], x: &Q8Row, block_bytes: usize) -> usize {
    let nb = x.d.len();
    assert_eq!(x.qs.len(), nb * QK8_0, "activation shape");
    for row in r {
        assert_eq!(row.len(), nb * block_bytes, "row length");
    }
    nb
}

/// Σ over 32 int8 pairs as 8 int32 lanes: `maddubs` needs an unsigned left operand, so move
/// the sign of `w` onto `x` (|w| ≤ 127, so the i16 pair sums cannot saturate).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn dot_i8(w: __m256i, x: __m256i) -> __m256i {
    let p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    _mm256_madd_epi16(p, _mm256_set1_epi16(1))
}

/// Q8_0 with each row's block sum in one int32, as the scalar reference has it: `dot_i8`'s
/// eight int32 lanes per row, an int32 `hadd` tree over the four rows, and the block added in
/// f32 as `(d_w·d_x)·isum` in block order, unfused (see [`add_block`]): bit for bit the
/// reference.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dot4_q8_0(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
    let nb = blocks(&r, &x, Q8_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let mut acc = _mm_setzero_ps();
    for b in 0..nb {
        // SAFETY: b < nb: block b of the activation (32 bytes) and of each row (34 bytes)
        // are in bounds (checked by `blocks`).
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(b * QK8_0).cast());
            let lanes: [__m256i; 4] = std::array::from_fn(|k| {
                let blk = p[k].add(b * Q8_0_BYTES);
                prefetch(blk, ah);
                dot_i8(_mm256_loadu_si256(blk.add(2).cast()), xq)
            });
            let halves = _mm256_hadd_epi32(
                _mm256_hadd_epi32(lanes[0], lanes[1]),
                _mm256_hadd_epi32(lanes[2], lanes[3]),
            );
            acc = add_block(acc, &p, b * Q8_0_BYTES, *x.d.get_unchecked(b), halves);
        }
    }
    store4(acc)
}

/// `acc + (d_w·d_x)·isum` for the four rows, where `halves` holds each row's block sum split
/// over the two 128-bit halves and the rows' fp16 scales sit at byte `off` of their blocks:
/// the scalar reference's two roundings, in its order. The scales are packed in a general
/// register, one move into the vector unit (gathering them with `vpinsrw` saturated the shuffle
/// port).
///
/// # Safety
/// 2 readable bytes at `off` in each row.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn add_block(
    acc: __m128,
    p: &[*const u8; 4],
    off: usize,
    dx: f32,
    halves: __m256i,
) -> __m128 {
    let isum = _mm_add_epi32(
        _mm256_castsi256_si128(halves),
        _mm256_extracti128_si256::<1>(halves),
    );
    // SAFETY: the caller's contract.
    let h = p.map(|r| unsafe { r.add(off).cast::<u16>().read_unaligned() } as u64);
    let h = h[0] | h[1] << 16 | h[2] << 32 | h[3] << 48;
    let dw = _mm_cvtph_ps(_mm_cvtsi64_si128(h as i64));
    _mm_add_ps(
        acc,
        _mm_mul_ps(_mm_mul_ps(dw, _mm_set1_ps(dx)), _mm_cvtepi32_ps(isum)),
    )
}

/// The four lanes of `v` as an array.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn store4(v: __m128) -> [f32; 4] {
    let mut out = [0.0f32; 4];
    // SAFETY: `out` holds 4 floats.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) };
    out
}

/// Q4_0 with each row's block sum in one int32, as the scalar reference has it: the −8 offset
/// comes off the i16 pair sums (8·(x_2i + x_2i+1), shared by the rows), an i16 `hadd` tree
/// folds the four rows' pairs into `[r0 r1 r2 r3]` per 128-bit half, and the block is added
/// in f32 as `(d_w·d_x)·isum`, in block order, without fusing. So this kernel equals the
/// reference bit for bit, and it does 6 integer multiplies per block of four rows where
/// eight-lane partial sums per row did 10 (AVX2's multiply ports bound this kernel): one `madd`
/// per four rows instead of one per row and one for the offset. The nibble split is one
/// per-lane shift of the 16 bytes broadcast to both lanes, and the four rows share one scale
/// conversion ([`add_block`]). `matvec/Q4_0-i8/768x1536/avx2/1t` (criterion,
/// cache-resident) went from 13.8–15.6 to 14.6–17.0 GB/s, llama-124m Q4_0 decode on the AVX2
/// path from ~280 to ~306 tok/s (2 threads, Zen 4 VM, alternating runs).
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn dot4_q4_0(r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
    let nb = blocks(&r, &x, Q4_0_BYTES);
    let p = r.map(|s| s.as_ptr());
    let ah = ahead(&r);
    let m4 = _mm256_set1_epi8(0x0f);
    // Shifting the high lane's copy by 4 puts the high nibbles (elements 16..32) under the mask.
    let split = _mm256_setr_epi64x(0, 0, 4, 4);
    let ones = _mm256_set1_epi16(1);
    let eights = _mm256_set1_epi8(8);
    let mut acc = _mm_setzero_ps();
    for b in 0..nb {
        // SAFETY: as in `dot4_q8_0` (18-byte blocks).
        unsafe {
            let xq = _mm256_loadu_si256(x.qs.as_ptr().add(b * QK8_0).cast());
            // 8·(x_2i + x_2i+1): the −8 offset of each nibble pair, taken off in i16.
            let offset = _mm256_maddubs_epi16(eights, xq);
            let pairs: [__m256i; 4] = std::array::from_fn(|k| {
                let blk = p[k].add(b * Q4_0_BYTES);
                prefetch(blk, ah);
                let q = _mm256_broadcastsi128_si256(_mm_loadu_si128(blk.add(2).cast()));
                let nib = _mm256_and_si256(_mm256_srlv_epi64(q, split), m4);
                _mm256_sub_epi16(_mm256_maddubs_epi16(nib, xq), offset)
            });
            // Each pair sum is ≤ 2·8·127 = 2032 in size, so the two i16 `hadd` levels (sums of
            // 4, ≤ 8128) cannot wrap; one `madd` widens to int32: per 128-bit half,
            // [Σr0 Σr1 Σr2 Σr3] of that half's 16 products.
            let halves = _mm256_madd_epi16(
                _mm256_hadd_epi16(
                    _mm256_hadd_epi16(pairs[0], pairs[1]),
                    _mm256_hadd_epi16(pairs[2], pairs[3]),
                ),
                ones,
            );
            acc = add_block(acc, &p, b * Q4_0_BYTES, *x.d.get_unchecked(b), halves);
        }
    }
    store4(acc)
}
