//! Prefill int8 matmul with register tiles: 4 weight rows × 8 tokens (x86-64 AVX-512 VNNI; two
//! tokens per 512-bit vector, one 8-lane half each).
//!
//! The kernels' `matmul_q8` runs their 4-row matvec kernel once per token, so every weight block
//! is decoded again for every token. Here a weight block is loaded (and its scale converted)
//! once per 8 tokens and an activation block once per 4 rows. Each (row, token) result goes
//! through exactly the arithmetic of the kernels' AVX-512 int8 matvec: exact int32 block sums
//! in 8 lanes, `acc = fma(f32(sum), d_w·d_x, acc)` per block, the same horizontal sum. So
//! prefill still equals decode bit for bit (`tests::tiles_equal_the_kernels_matmul`). Other
//! CPUs, paths and weight types use the kernels' `matmul_q8`.

#[cfg(target_arch = "x86_64")]
use weft_kernels::GgmlType;
#[cfg(target_arch = "x86_64")]
use weft_kernels::cpu::dispatch::{Path, selected_path};
use weft_kernels::cpu::matvec::WeightView;
use weft_kernels::cpu::matvec_q8::{self, Q8Act};

/// `y` = `[qa.tokens(), w.rows]`, row `ti` = W·x_ti (as [`matvec_q8::matmul_q8`]).
pub fn matmul_q8(w: &WeightView, qa: &Q8Act, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if selected_path() == Path::Avx512 && matches!(w.ty, GgmlType::Q8_0 | GgmlType::Q4_0) {
        assert_eq!(qa.cols(), w.cols, "matmul_q8: activation width");
        assert_eq!(y.len(), qa.tokens() * w.rows, "matmul_q8: y length");
        assert_eq!(
            w.data.len(),
            w.rows * w.row_bytes(),
            "matmul_q8: weight bytes"
        );
        // SAFETY: the selected path is AVX-512, which `Path::is_supported` checked (F, BW, VL,
        // VNNI, AVX2, FMA, F16C); shapes are checked above.
        unsafe { x86::tiles(w, qa, y) };
        return;
    }
    matvec_q8::matmul_q8(w, qa, y);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use weft_kernels::GgmlType;
    use weft_kernels::cpu::matvec::WeightView;
    use weft_kernels::cpu::matvec_q8::Q8Act;

    const QK: usize = 32;

    /// The kernels' horizontal sum of four 8-lane accumulators (same order of additions).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn hsum4(v: [__m256; 4]) -> [f32; 4] {
        let h01 = _mm256_hadd_ps(v[0], v[1]);
        let h23 = _mm256_hadd_ps(v[2], v[3]);
        let h = _mm256_hadd_ps(h01, h23);
        let s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps::<1>(h));
        let mut out = [0.0f32; 4];
        // SAFETY: `out` holds exactly the 4 floats stored.
        unsafe { _mm_storeu_ps(out.as_mut_ptr(), s) };
        out
    }

    /// The fp16 scale at `p` in all 16 lanes.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    unsafe fn scale16(p: *const u8) -> __m512 {
        // SAFETY: the caller guarantees 2 readable bytes.
        let bits = unsafe { p.cast::<i16>().read_unaligned() };
        _mm512_cvtph_ps(_mm256_set1_epi16(bits))
    }

    /// Tokens per tile: four pairs, one pair per 512-bit vector (one 8-lane half per token).
    const TOKENS: usize = 8;

    /// # Safety
    /// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C present; `w` is Q8_0 or Q4_0 with
    /// `data.len() == rows · row_bytes`, `qa.cols() == w.cols`, `y.len() == tokens · rows`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    pub(super) unsafe fn tiles(w: &WeightView, qa: &Q8Act, y: &mut [f32]) {
        let (m, t, rb) = (w.rows, qa.tokens(), w.row_bytes());
        for r0 in (0..m).step_by(4) {
            let nr = (m - r0).min(4);
            // Rows past the end repeat the last row (results discarded), as the kernels do.
            let rows: [&[u8]; 4] = std::array::from_fn(|k| {
                let r = (r0 + k).min(m - 1);
                &w.data[r * rb..(r + 1) * rb]
            });
            let mut t0 = 0;
            while t0 < t {
                let nt = (t - t0).min(TOKENS);
                // Tokens past the end repeat the last token (results discarded).
                let tok: [usize; TOKENS] = std::array::from_fn(|j| (t0 + j).min(t - 1));
                let mut out = [[0.0f32; 4]; TOKENS];
                // SAFETY: rows are whole rows of `w`; every index in `tok` is a token of `qa`.
                unsafe {
                    match (w.ty, nt.div_ceil(2)) {
                        (GgmlType::Q8_0, 4) => tile_q8_0::<4>(rows, qa, tok, &mut out),
                        (GgmlType::Q8_0, 3) => tile_q8_0::<3>(rows, qa, tok, &mut out),
                        (GgmlType::Q8_0, 2) => tile_q8_0::<2>(rows, qa, tok, &mut out),
                        (GgmlType::Q8_0, _) => tile_q8_0::<1>(rows, qa, tok, &mut out),
                        (_, 4) => tile_q4_0::<4>(rows, qa, tok, &mut out),
                        (_, 3) => tile_q4_0::<3>(rows, qa, tok, &mut out),
                        (_, 2) => tile_q4_0::<2>(rows, qa, tok, &mut out),
                        (_, _) => tile_q4_0::<1>(rows, qa, tok, &mut out),
                    }
                }
                for (j, o) in out.iter().enumerate().take(nt) {
                    let base = (t0 + j) * m + r0;
                    y[base..base + nr].copy_from_slice(&o[..nr]);
                }
                t0 += nt;
            }
        }
    }

    /// Two 256-bit halves in one 512-bit vector.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    fn pair_i(lo: __m256i, hi: __m256i) -> __m512i {
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    fn pair_f(lo: __m256, hi: __m256) -> __m512 {
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castpd256_pd512(_mm256_castps_pd(lo)),
            _mm256_castps_pd(hi),
        ))
    }

    /// The two 8-lane halves of a 512-bit accumulator.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    fn halves(v: __m512) -> (__m256, __m256) {
        let hi = _mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v));
        (_mm512_castps512_ps256(v), _mm256_castpd_ps(hi))
    }

    /// Reduces `acc[row][pair]` into `out[token][row]`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    fn finish<const NP: usize>(acc: [[__m512; NP]; 4], out: &mut [[f32; 4]; TOKENS]) {
        for j in 0..NP {
            let h: [(__m256, __m256); 4] = std::array::from_fn(|k| halves(acc[k][j]));
            out[2 * j] = hsum4([h[0].0, h[1].0, h[2].0, h[3].0]);
            out[2 * j + 1] = hsum4([h[0].1, h[1].1, h[2].1, h[3].1]);
        }
    }

    /// Q8_0: u8 (x + 128) × s8 w, with −128·Σw (per lane) as the starting sum: exactly Σ x·w.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[allow(clippy::needless_range_loop)] // `b` also addresses the rows' blocks
    unsafe fn tile_q8_0<const NP: usize>(
        rows: [&[u8]; 4],
        qa: &Q8Act,
        tok: [usize; TOKENS],
        out: &mut [[f32; 4]; TOKENS],
    ) {
        const BYTES: usize = 34;
        let nb = rows[0].len() / BYTES;
        let xq: [&[i8]; TOKENS] = tok.map(|t| qa.quants(t));
        let xd: [&[f32]; TOKENS] = tok.map(|t| qa.scales(t));
        let (zero, bias) = (_mm256_setzero_si256(), _mm256_set1_epi8(-128));
        let mut acc = [[_mm512_setzero_ps(); NP]; 4];
        for b in 0..nb {
            // SAFETY: b < nb: block b of every row (34 bytes) and of every token's activation
            // (32 quants, one scale) is in bounds.
            unsafe {
                let xu: [__m512i; NP] = std::array::from_fn(|j| {
                    let ld = |t: usize| {
                        let v = _mm256_loadu_si256(xq[t].as_ptr().add(b * QK).cast());
                        _mm256_xor_si256(v, bias)
                    };
                    pair_i(ld(2 * j), ld(2 * j + 1))
                });
                let dx: [__m512; NP] = std::array::from_fn(|j| {
                    pair_f(
                        _mm256_set1_ps(xd[2 * j][b]),
                        _mm256_set1_ps(xd[2 * j + 1][b]),
                    )
                });
                for k in 0..4 {
                    let blk = rows[k].as_ptr().add(b * BYTES);
                    let wq = _mm256_loadu_si256(blk.add(2).cast());
                    let corr = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, bias, wq));
                    let (wq, corr) = (pair_i(wq, wq), pair_i(corr, corr));
                    let dw = scale16(blk);
                    for j in 0..NP {
                        let i = _mm512_dpbusd_epi32(corr, xu[j], wq);
                        acc[k][j] = _mm512_fmadd_ps(
                            _mm512_cvtepi32_ps(i),
                            _mm512_mul_ps(dw, dx[j]),
                            acc[k][j],
                        );
                    }
                }
            }
        }
        finish(acc, out);
    }

    /// Q4_0: unsigned nibbles × s8 x onto −8·Σx per lane: exactly Σ (nibble − 8)·x.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[allow(clippy::needless_range_loop)] // `b` also addresses the rows' blocks
    unsafe fn tile_q4_0<const NP: usize>(
        rows: [&[u8]; 4],
        qa: &Q8Act,
        tok: [usize; TOKENS],
        out: &mut [[f32; 4]; TOKENS],
    ) {
        const BYTES: usize = 18;
        let nb = rows[0].len() / BYTES;
        let xq: [&[i8]; TOKENS] = tok.map(|t| qa.quants(t));
        let xd: [&[f32]; TOKENS] = tok.map(|t| qa.scales(t));
        let (zero, eights, m4) = (
            _mm512_setzero_si512(),
            _mm512_set1_epi8(8),
            _mm_set1_epi8(0x0f),
        );
        let mut acc = [[_mm512_setzero_ps(); NP]; 4];
        for b in 0..nb {
            // SAFETY: as in `tile_q8_0` (18-byte blocks).
            unsafe {
                let x: [__m512i; NP] = std::array::from_fn(|j| {
                    let ld = |t: usize| _mm256_loadu_si256(xq[t].as_ptr().add(b * QK).cast());
                    pair_i(ld(2 * j), ld(2 * j + 1))
                });
                let corr: [__m512i; NP] = std::array::from_fn(|j| {
                    _mm512_dpbusd_epi32(zero, eights, _mm512_sub_epi8(zero, x[j]))
                });
                let dx: [__m512; NP] = std::array::from_fn(|j| {
                    pair_f(
                        _mm256_set1_ps(xd[2 * j][b]),
                        _mm256_set1_ps(xd[2 * j + 1][b]),
                    )
                });
                for k in 0..4 {
                    let blk = rows[k].as_ptr().add(b * BYTES);
                    let q = _mm_loadu_si128(blk.add(2).cast());
                    let lo = _mm_and_si128(q, m4);
                    let hi = _mm_and_si128(_mm_srli_epi16::<4>(q), m4);
                    let nib = _mm256_set_m128i(hi, lo);
                    let nib = pair_i(nib, nib);
                    let dw = scale16(blk);
                    for j in 0..NP {
                        let i = _mm512_dpbusd_epi32(corr[j], nib, x[j]);
                        acc[k][j] = _mm512_fmadd_ps(
                            _mm512_cvtepi32_ps(i),
                            _mm512_mul_ps(dw, dx[j]),
                            acc[k][j],
                        );
                    }
                }
            }
        }
        finish(acc, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_kernels::GgmlType;
    use weft_kernels::quant;

    fn rng(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 20001) as f32 / 10000.0 - 1.0
    }

    #[test]
    fn tiles_equal_the_kernels_matmul() {
        let mut s = 0x1234_5678_9abc_def1u64;
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0] {
            for (rows, cols, t) in [(1, 32, 1), (5, 64, 3), (8, 96, 4), (13, 256, 9), (4, 32, 7)] {
                let vals: Vec<f32> = (0..rows * cols).map(|_| rng(&mut s)).collect();
                let data = quant::quantize(ty, &vals).unwrap();
                let w = WeightView::new(ty, &data, rows, cols).unwrap();
                let x: Vec<f32> = (0..t * cols).map(|_| rng(&mut s) * 3.0).collect();
                let mut qa = Q8Act::new(cols, t);
                qa.quantize(&x, cols);
                let (mut a, mut b) = (vec![0.0; t * rows], vec![0.0; t * rows]);
                matmul_q8(&w, &qa, &mut a);
                matvec_q8::matmul_q8(&w, &qa, &mut b);
                assert!(
                    a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{ty} {rows}x{cols} t={t}: {a:?} vs {b:?}"
                );
            }
        }
    }
}
