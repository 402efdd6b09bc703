//! AVX-512 VNNI tiles: R weight rows × 16 tokens, the tokens in the 16 int32 lanes of a
//! 512-bit vector, each weight's 4 bytes the broadcast memory operand of `vpdpbusd`.

use std::arch::x86_64::*;

use super::{LANES, Packed, QK, R, block_bytes, tile_rows};
use crate::cpu::matvec::WeightView;

/// `wsum[b·8 + k]` = −128·Σ quants of block b of row `r0 + k` (Q8_0; rows past the end
/// repeat the last row). The 8 rows of a block are summed together: a `vpdpbusd` with
/// ones per row, then `hadd` trees that end with the 8 sums in one vector (no per-block
/// horizontal reduction, whose latency chain cost as much as the tile itself).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn wsums(w: &WeightView, r0: usize, nb: usize, wsum: &mut [i32]) {
    const { assert!(R == 8) };
    let rb = w.row_bytes();
    assert_eq!(rb, nb * 34);
    assert!(wsum.len() >= nb * R);
    let rows = tile_rows(w, r0).map(<[u8]>::as_ptr);
    let (zero, ones) = (_mm256_setzero_si256(), _mm256_set1_epi8(1));
    for b in 0..nb {
        // SAFETY: block b < nb of each row (34 bytes, quants from byte 2) is in bounds, and
        // 8 i32 at b·8 of `wsum` (checked above).
        unsafe {
            let v: [__m256i; R] = std::array::from_fn(|k| {
                let q = _mm256_loadu_si256(rows[k].add(b * 34 + 2).cast());
                _mm256_dpbusd_epi32(zero, ones, q)
            });
            let h = [0, 2, 4, 6].map(|k| _mm256_hadd_epi32(v[k], v[k + 1]));
            let lo = _mm256_hadd_epi32(h[0], h[1]); // rows 0-3: low half | high half
            let hi = _mm256_hadd_epi32(h[2], h[3]); // rows 4-7
            let s = _mm256_add_epi32(
                _mm256_permute2x128_si256::<0x20>(lo, hi),
                _mm256_permute2x128_si256::<0x31>(lo, hi),
            );
            let s = _mm256_sub_epi32(zero, _mm256_slli_epi32::<7>(s));
            _mm256_storeu_si256(wsum.as_mut_ptr().add(b * R).cast(), s);
        }
    }
}

/// The Q8_0 row tile's preparation ([`super::PrepFn`]): the −128·Σw the flipped activations
/// need, and the scales.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C present.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(super) unsafe fn prep_q8(
    w: &WeightView,
    r0: usize,
    nb: usize,
    wsum: &mut [i32],
    wscale: &mut [f32],
) {
    wsums(w, r0, nb, wsum);
    super::avx2::wscales(w, r0, nb, wscale);
}

/// `acc + Σ_4 x·w` per 32-bit lane with the weight's 4 bytes at `p` broadcast from memory
/// (u8 `x`, s8 `w`): one `vpdpbusd` with a `{1to16}` operand.
///
/// # Safety
/// 4 readable bytes at `p`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
unsafe fn dpbusd_bcast(acc: __m512i, x: __m512i, p: *const u8) -> __m512i {
    let mut acc = acc;
    // SAFETY: reads 4 bytes at `p` (the caller's contract); AVX-512 VNNI is enabled.
    unsafe {
        std::arch::asm!(
            "vpdpbusd {acc}, {x}, dword ptr [{p}]{{1to16}}",
            acc = inout(zmm_reg) acc,
            x = in(zmm_reg) x,
            p = in(reg) p,
            options(pure, readonly, nostack, preserves_flags)
        );
    }
    acc
}

/// The 4 bytes at `p` in every 32-bit lane, as one broadcasting load. (Written as `asm!`:
/// from `_mm512_set1_epi32` LLVM moves the XOR that follows onto the narrow value and
/// broadcasts from a register, a shuffle that limits the tiles' throughput.)
///
/// # Safety
/// 4 readable bytes at `p`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[inline]
unsafe fn bcast4(p: *const u8) -> __m512i {
    let v: __m512i;
    // SAFETY: reads 4 bytes at `p` (the caller's contract); AVX-512F is enabled.
    unsafe {
        std::arch::asm!(
            "vpbroadcastd {v}, dword ptr [{p}]",
            v = out(zmm_reg) v,
            p = in(reg) p,
            options(pure, readonly, nostack, preserves_flags)
        );
    }
    v
}

/// `out[l][k]` = row `r0 + k` · token `16g + l` (rows past the end repeat the last row); the
/// row tile's sums and scales are the block's `slot`.
/// Q8_0 (`Q4 == false`): the activations are packed as `x + 128` (u8) and the weight's s8
/// bytes are the broadcast memory operand of `vpdpbusd`, which sums (x + 128)·w onto
/// −128·Σw (`wsums`, once per row tile): exactly Σ w·x. Q4_0: the nibbles are `w + 8` as
/// u8 (register operand) against s8 `x`, onto −8·Σx.
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C present; as [`super::TileFn`], the Q8_0
/// activations packed flipped.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
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
    let at = pk.tile_range(slot);
    let (wsum, wscale) = (&pk.wsum[at.clone()], &pk.wscale[at]);
    let bb = block_bytes(Q4);
    let rows = tile_rows(w, r0).map(<[u8]>::as_ptr);
    let gb = g * nb;
    // SAFETY (all loads below): block b < nb of group g < groups is inside the packed
    // buffers (`pack` checked the capacity), and of every row (nb · bb == rb).
    let xs = unsafe { pk.xs.as_ptr().add(gb * LANES * QK) };
    let sums = unsafe { pk.sums.as_ptr().add(gb * LANES) };
    let ds = unsafe { pk.d.as_ptr().add(gb * LANES) };
    let (zero, m4) = (_mm512_setzero_si512(), _mm512_set1_epi8(0x0f));
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..nb {
        // SAFETY: see above.
        unsafe {
            let x: [__m512i; 8] =
                std::array::from_fn(|j| _mm512_loadu_si512(xs.add((b * 8 + j) * LANES * 4).cast()));
            let dx = _mm512_loadu_ps(ds.add(b * LANES));
            let q = rows.map(|p| p.add(b * bb + 2));
            // One chain per row: the tile's 8 rows are 8 independent vpdpbusd chains,
            // enough to cover its latency (a second chain per row measured no faster). The
            // int32 sums are exact in any order.
            let mut isum;
            if Q4 {
                let s = _mm512_loadu_si512(sums.add(b * LANES).cast());
                isum = [_mm512_sub_epi32(zero, _mm512_slli_epi32::<3>(s)); R];
                for j in 0..4 {
                    for k in 0..R {
                        let v = bcast4(q[k].add(4 * j));
                        let lo = _mm512_and_si512(v, m4);
                        let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), m4);
                        isum[k] = _mm512_dpbusd_epi32(isum[k], lo, x[j]);
                        isum[k] = _mm512_dpbusd_epi32(isum[k], hi, x[j + 4]);
                    }
                }
            } else {
                isum = std::array::from_fn(|k| _mm512_set1_epi32(*wsum.get_unchecked(b * R + k)));
                for (j, &xj) in x.iter().enumerate() {
                    for k in 0..R {
                        isum[k] = dpbusd_bcast(isum[k], xj, q[k].add(4 * j));
                    }
                }
            }
            for k in 0..R {
                let dw = _mm512_set1_ps(*wscale.get_unchecked(b * R + k));
                // The reference's order: (d_w·d_x)·sum, then the add.
                let p = _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(isum[k]));
                acc[k] = _mm512_add_ps(acc[k], p);
            }
        }
    }
    let per_token = transpose(acc);
    for (o, v) in out.iter_mut().zip(per_token) {
        // SAFETY: `o` holds exactly 8 floats.
        unsafe { _mm256_storeu_ps(o.as_mut_ptr(), v) };
    }
}

/// `a[k]` holds row k's results for 16 tokens; returns each token's 8 row results. In
/// registers: the sink then reads whole vectors that were stored whole (a vector built
/// from 8 scalar stores stalls its load on store forwarding).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn transpose(a: [__m512; R]) -> [__m256; LANES] {
    const { assert!(R == 8 && LANES == 16) };
    // Unpack and shuffle act within 128-bit lanes, so the first two steps are four 4×4
    // transposes per row quad: afterwards lane j of `q[i]` is rows 0-3 (`q[i + 4]`: rows
    // 4-7) of token 4j + i.
    let t: [__m512; 8] = std::array::from_fn(|k| {
        let (x, y) = (a[k & !1], a[k | 1]);
        if k % 2 == 0 {
            _mm512_unpacklo_ps(x, y)
        } else {
            _mm512_unpackhi_ps(x, y)
        }
    });
    let q: [__m512; 8] = std::array::from_fn(|i| {
        let (x, y) = (
            t[(i / 4) * 4 + (i % 4) / 2],
            t[(i / 4) * 4 + (i % 4) / 2 + 2],
        );
        if i % 2 == 0 {
            _mm512_shuffle_ps::<0x44>(x, y)
        } else {
            _mm512_shuffle_ps::<0xEE>(x, y)
        }
    });
    let mut out = [_mm256_setzero_ps(); LANES];
    for i in 0..4 {
        let (lo, hi) = (q[i], q[i + 4]);
        // [lo.0, lo.2, hi.0, hi.2] → [lo.0, hi.0, lo.2, hi.2]: tokens i and 8 + i.
        let pair = |v| _mm512_shuffle_f32x4::<0b11_01_10_00>(v, v);
        let even = pair(_mm512_shuffle_f32x4::<0b10_00_10_00>(lo, hi));
        let odd = pair(_mm512_shuffle_f32x4::<0b11_01_11_01>(lo, hi));
        for (j, v) in [even, odd].into_iter().enumerate() {
            out[4 * j + i] = _mm512_castps512_ps256(v);
            out[4 * j + i + 8] = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        }
    }
    out
}
