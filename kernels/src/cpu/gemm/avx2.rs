//! AVX2 tiles (no VNNI): R weight rows × 8 tokens, the tokens in the 8 int32 lanes of a
//! 256-bit vector, run twice per 16-token group of the packed activations (the low and high
//! 32 bytes of each packed 64-byte vector are tokens 0-7 and 8-15).
//!
//! `vpmaddubsw` multiplies u8 by s8 and adds pairs into saturating i16, so the weights' 4
//! bytes, broadcast to every lane, meet the tokens' 4 quants as:
//! - Q8_0: |w| (u8) against x with w's sign (`vpsignb`), pairs ≤ 2·128·127 < 2^15, then
//!   `vpmaddwd` by ones into i32 for each group of 4;
//! - Q4_0: the nibbles w + 8 (u8, ≤ 15) against x, pairs ≤ 2·15·128, so the 8 products of a
//!   block add up in i16 (≤ 8·3840 < 2^15) before one `vpmaddwd`, onto −8·Σx.
//!
//! Each block sum is exact, and the f32 work is the reference's: `acc += (d_w·d_x)·f32(sum)`
//! in block order, once per block and 8 tokens. So the results equal the scalar reference bit
//! for bit, like the AVX-512 tiles'.

use std::arch::x86_64::*;

use super::{LANES, Packed, QK, R, block_bytes, tile_rows};
use crate::GgmlType;
use crate::cpu::matvec::WeightView;

/// Tokens per vector.
const HALF: usize = 8;

/// `wscale[b·R + k]` = the fp16 scale of block b of row `r0 + k` as f32 (exact), converted
/// once per row tile instead of once per token group. Also the row tile's preparation for
/// every kernel but AVX-512 Q8_0 ([`super::PrepFn`], which ignores `wsum`).
///
/// # Safety
/// AVX2, FMA and F16C present.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn prep(
    w: &WeightView,
    r0: usize,
    nb: usize,
    _wsum: &mut [i32],
    wscale: &mut [f32],
) {
    wscales(w, r0, nb, wscale);
}

/// See [`prep`].
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) fn wscales(w: &WeightView, r0: usize, nb: usize, wscale: &mut [f32]) {
    const { assert!(R == 8) };
    let (rb, bb) = (w.row_bytes(), block_bytes(w.ty == GgmlType::Q4_0));
    assert_eq!(rb, nb * bb);
    assert!(wscale.len() >= nb * R);
    let rows = tile_rows(w, r0);
    for b in 0..nb {
        let h: [i16; R] =
            std::array::from_fn(|k| i16::from_le_bytes([rows[k][b * bb], rows[k][b * bb + 1]]));
        let v = _mm256_cvtph_ps(_mm_setr_epi16(
            h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
        ));
        // SAFETY: 8 floats at b·8 of `wscale` (checked above).
        unsafe { _mm256_storeu_ps(wscale.as_mut_ptr().add(b * R), v) };
    }
}

/// The 4 bytes at `p` in every 32-bit lane, as one broadcasting load (see the AVX-512
/// tiles' `bcast4` for why not `_mm256_set1_epi32`).
///
/// # Safety
/// 4 readable bytes at `p`.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn bcast4(p: *const u8) -> __m256i {
    let v: __m256i;
    // SAFETY: reads 4 bytes at `p` (the caller's contract); AVX2 is enabled.
    unsafe {
        std::arch::asm!(
            "vpbroadcastd {v}, dword ptr [{p}]",
            v = out(ymm_reg) v,
            p = in(reg) p,
            options(pure, readonly, nostack, preserves_flags)
        );
    }
    v
}

/// `out[l][k]` = row `r0 + k` · token `16g + l` (rows past the end repeat the last row), 8
/// tokens at a time; the row tile's scales are the block's `slot`.
///
/// # Safety
/// AVX2, FMA and F16C present; as [`super::TileFn`], with the activations packed unflipped.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn tile<const Q4: bool>(
    w: &WeightView,
    r0: usize,
    pk: &Packed,
    slot: usize,
    g: usize,
    out: &mut [[f32; R]; LANES],
) {
    let nb = pk.nb;
    let wscale = &pk.wscale[pk.tile_range(slot)];
    let bb = block_bytes(Q4);
    let rows = tile_rows(w, r0).map(<[u8]>::as_ptr);
    let gb = g * nb;
    let (ones, m4) = (_mm256_set1_epi16(1), _mm256_set1_epi8(0x0f));
    for half in 0..2 {
        // SAFETY (all loads below): block b < nb of group g < groups is inside the packed
        // buffers (`pack` checked the capacity), its half `half` 32 bytes into each 64-byte
        // vector, and block b of every row (nb · bb == rb).
        unsafe {
            let xs = pk.xs.as_ptr().add(gb * LANES * QK + half * HALF * 4);
            let sums = pk.sums.as_ptr().add(gb * LANES + half * HALF);
            let ds = pk.d.as_ptr().add(gb * LANES + half * HALF);
            let mut acc = [_mm256_setzero_ps(); R];
            for b in 0..nb {
                let xb = xs.add(b * 8 * LANES * 4);
                let x = |j: usize| _mm256_loadu_si256(xb.add(j * LANES * 4).cast());
                let dx = _mm256_loadu_ps(ds.add(b * LANES));
                let q = rows.map(|p| p.add(b * bb + 2));
                let isum: [__m256i; R] = if Q4 {
                    let mut s16 = [_mm256_setzero_si256(); R];
                    for j in 0..4 {
                        let (xl, xh) = (x(j), x(j + 4));
                        for k in 0..R {
                            let v = bcast4(q[k].add(4 * j));
                            let lo = _mm256_and_si256(v, m4);
                            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), m4);
                            s16[k] = _mm256_add_epi16(s16[k], _mm256_maddubs_epi16(lo, xl));
                            s16[k] = _mm256_add_epi16(s16[k], _mm256_maddubs_epi16(hi, xh));
                        }
                    }
                    let s = _mm256_slli_epi32::<3>(_mm256_loadu_si256(sums.add(b * LANES).cast()));
                    s16.map(|v| _mm256_sub_epi32(_mm256_madd_epi16(v, ones), s))
                } else {
                    let mut s32 = [_mm256_setzero_si256(); R];
                    for j in 0..8 {
                        let xj = x(j);
                        for k in 0..R {
                            let v = bcast4(q[k].add(4 * j));
                            let p =
                                _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(xj, v));
                            s32[k] = _mm256_add_epi32(s32[k], _mm256_madd_epi16(p, ones));
                        }
                    }
                    s32
                };
                for k in 0..R {
                    let dw = _mm256_set1_ps(*wscale.get_unchecked(b * R + k));
                    // The reference's order: (d_w·d_x)·sum, then the add.
                    let p = _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(isum[k]));
                    acc[k] = _mm256_add_ps(acc[k], p);
                }
            }
            let per_token = transpose(acc);
            for (o, v) in out[half * HALF..].iter_mut().zip(per_token) {
                // `o` holds exactly 8 floats.
                _mm256_storeu_ps(o.as_mut_ptr(), v);
            }
        }
    }
}

/// `a[k]` holds row k's results for 8 tokens; returns each token's 8 row results (an 8×8
/// transpose in registers).
#[target_feature(enable = "avx2,fma,f16c")]
fn transpose(a: [__m256; R]) -> [__m256; HALF] {
    const { assert!(R == 8 && HALF == 8) };
    // Within 128-bit lanes: pairs of rows interleaved, then quads.
    let t: [__m256; 8] = std::array::from_fn(|k| {
        let (x, y) = (a[k & !1], a[k | 1]);
        if k % 2 == 0 {
            _mm256_unpacklo_ps(x, y)
        } else {
            _mm256_unpackhi_ps(x, y)
        }
    });
    // u[i] (i < 4): rows 0-3 of tokens i and 4 + i; u[4 + i]: rows 4-7 of the same tokens.
    let u: [__m256; 8] = std::array::from_fn(|i| {
        let q = (i / 4) * 4;
        let (x, y) = (t[q + (i % 4) / 2], t[q + (i % 4) / 2 + 2]);
        if i % 2 == 0 {
            _mm256_shuffle_ps::<0x44>(x, y)
        } else {
            _mm256_shuffle_ps::<0xEE>(x, y)
        }
    });
    std::array::from_fn(|l| {
        let (lo, hi) = (u[l % 4], u[4 + l % 4]);
        if l < 4 {
            _mm256_permute2f128_ps::<0x20>(lo, hi)
        } else {
            _mm256_permute2f128_ps::<0x31>(lo, hi)
        }
    })
}
