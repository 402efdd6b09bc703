//! Prefill int8 matmul (x86-64 AVX-512 VNNI): register tiles of R weight rows × 16 tokens with
//! the tokens in the vector lanes.
//!
//! The kernels' `matmul_q8` runs their 4-row matvec kernel once per token: every `vpdpbusd`
//! yields 8 partial block sums that each need a convert, a scale and an add in f32. Here the
//! activations of 16 tokens are first interleaved ([`Packed`]: per block, eight vectors that hold
//! the same 4 quants of all 16 tokens), so the eight `vpdpbusd` of one block and one weight row
//! accumulate the *whole* int32 block sum of 16 tokens, one per lane, and the f32 work (convert,
//! `d_w·d_x`, add) is done once per block sum instead of once per 4 products. The weight's 4
//! bytes are broadcast from the memory-mapped weights as they are (zero copy).
//!
//! Each (row, token) result is the scalar reference's arithmetic exactly: exact int32 block sum,
//! `acc += (d_w·d_x)·f32(sum)` in block order, so prefill equals
//! [`matvec_q8::matmul_q8_rows_scalar`] bit for bit (`tests::tiles_equal_the_scalar_reference`)
//! and does not depend on how tokens are split or tiled. (The decode matvec sums in 8 lanes, so
//! prefill and decode differ by f32 rounding only.) Other CPUs, paths and weight types use the
//! kernels' `matmul_q8`.

#[cfg(target_arch = "x86_64")]
use weft_kernels::GgmlType;
#[cfg(target_arch = "x86_64")]
use weft_kernels::cpu::dispatch::{Path, selected_path};
use weft_kernels::cpu::matvec::WeightView;
use weft_kernels::cpu::matvec_q8::{self, Q8Act};

/// Weight rows per tile.
const R: usize = 8;
/// Tokens per tile (the 16 int32 lanes of a 512-bit vector).
const LANES: usize = 16;
/// Elements per quantized block.
const QK: usize = 32;
/// Row tiles done together for one token group: their results fill whole cache lines of each
/// token's output row (one row tile alone writes 32 bytes per token, and over a long prompt
/// the rows were evicted before the next tile filled the rest of their lines).
const BLOCK: usize = 8;

/// Quantized activations in the tiles' layout, for groups of 16 tokens. Per group and block:
/// `xs`: 8 × 64 bytes, vector `j` holding quants `4j..4j+4` of token 0, then token 1, …;
/// `sums`: Σ of the block's 32 quants per token (i32); `d`: the block scale per token.
/// Lanes past the last token hold zeros. Allocated once (session init), reused.
#[derive(Debug)]
pub struct Packed {
    xs: Vec<i8>,
    sums: Vec<i32>,
    d: Vec<f32>,
    /// Per row tile of a block (Q8_0): −128·Σ of each row's block quants, `[BLOCK][nb][R]`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 tiles
    wsum: Vec<i32>,
    /// Per row tile of a block: each row's block scales as f32, `[BLOCK][nb][R]`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 tiles
    wscale: Vec<f32>,
    nb: usize,
    groups: usize,
    tokens: usize,
}

impl Packed {
    /// Room for `max_tokens` tokens of up to `max_cols` elements. This is the only allocation.
    pub fn new(max_cols: usize, max_tokens: usize) -> Self {
        let blocks = max_tokens.div_ceil(LANES) * max_cols.div_ceil(QK);
        Packed {
            xs: vec![0; blocks * LANES * QK],
            sums: vec![0; blocks * LANES],
            d: vec![0.0; blocks * LANES],
            wsum: vec![0; BLOCK * R * max_cols.div_ceil(QK)],
            wscale: vec![0.0; BLOCK * R * max_cols.div_ceil(QK)],
            nb: 0,
            groups: 0,
            tokens: 0,
        }
    }

    /// The `wsum` / `wscale` entries of row tile `slot` of a block.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 tiles
    fn tile_range(&self, slot: usize) -> std::ops::Range<usize> {
        slot * self.nb * R..(slot + 1) * self.nb * R
    }

    /// Interleaves the tokens of `qa` (never allocates; panics if they do not fit); with
    /// `flip` the quants are stored XOR 0x80 (`x + 128` as u8).
    pub fn pack(&mut self, qa: &Q8Act, flip: bool) {
        let fl = if flip { 0x80u8 } else { 0 };
        let (t, nb) = (qa.tokens(), qa.cols() / QK);
        let groups = t.div_ceil(LANES);
        assert!(
            groups * nb * LANES <= self.d.len(),
            "Packed: capacity exceeded"
        );
        for g in 0..groups {
            for l in 0..LANES {
                let ti = g * LANES + l;
                let (q, d) = if ti < t {
                    (Some(qa.quants(ti)), qa.scales(ti))
                } else {
                    (None, &[][..])
                };
                for b in 0..nb {
                    let gb = g * nb + b;
                    let (mut sum, dst) = (0i32, &mut self.xs[gb * LANES * QK..][..LANES * QK]);
                    for j in 0..QK / 4 {
                        let o = j * LANES * 4 + l * 4;
                        match q {
                            Some(q) => {
                                let src = &q[b * QK + 4 * j..b * QK + 4 * j + 4];
                                sum += src.iter().map(|&v| v as i32).sum::<i32>();
                                for (o, &v) in dst[o..o + 4].iter_mut().zip(src) {
                                    *o = (v as u8 ^ fl) as i8;
                                }
                            }
                            None => dst[o..o + 4].fill(fl as i8),
                        }
                    }
                    self.sums[gb * LANES + l] = sum;
                    self.d[gb * LANES + l] = if q.is_some() { d[b] } else { 0.0 };
                }
            }
        }
        (self.nb, self.groups, self.tokens) = (nb, groups, t);
    }
}

/// Whether [`matmul_q8`] takes the tiles (and so needs a filled [`Packed`]) for `w`.
pub fn tiled(w: &WeightView) -> bool {
    #[cfg(target_arch = "x86_64")]
    if matches!(selected_path(), Path::Avx512 | Path::Avx512Vbmi)
        && matches!(w.ty, GgmlType::Q8_0 | GgmlType::Q4_0)
    {
        return true;
    }
    let _ = w;
    false
}

/// `y` = `[qa.tokens(), w.rows]`, row `ti` = W·x_ti (as [`matvec_q8::matmul_q8_rows_scalar`]).
/// `pk` is scratch for the interleaved activations.
pub fn matmul_q8(w: &WeightView, qa: &Q8Act, pk: &mut Packed, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if tiled(w) {
        assert_eq!(qa.cols(), w.cols, "matmul_q8: activation width");
        assert_eq!(y.len(), qa.tokens() * w.rows, "matmul_q8: y length");
        assert_eq!(
            w.data.len(),
            w.rows * w.row_bytes(),
            "matmul_q8: weight bytes"
        );
        let m = w.rows;
        matmul_q8_to(w, qa, pk, |ti, r0, v| copy_row(&mut y[ti * m + r0..], v));
        return;
    }
    let _ = pk;
    matvec_q8::matmul_q8(w, qa, y);
}

/// `dst[..v.len()] = v`; a full tile's R values as one fixed-size copy (a length known at
/// compile time is two vector moves, where `copy_from_slice` of a run-time length calls memmove).
#[inline(always)]
pub fn copy_row(dst: &mut [f32], v: &[f32]) {
    match (<&[f32; R]>::try_from(v), dst.first_chunk_mut::<R>()) {
        (Ok(v), Some(d)) => *d = *v,
        _ => dst[..v.len()].copy_from_slice(v),
    }
}

/// The tiles of [`matmul_q8`] (only where [`tiled`] holds) with the results handed to `sink`:
/// `sink(ti, r0, v)` gets W·x_ti for the rows `r0..r0 + v.len()` (each (token, row) once).
pub fn matmul_q8_to(
    w: &WeightView,
    qa: &Q8Act,
    pk: &mut Packed,
    sink: impl FnMut(usize, usize, &[f32]),
) {
    assert!(tiled(w), "matmul_q8_to: no tiles for {} here", w.ty);
    assert_eq!(qa.cols(), w.cols, "matmul_q8: activation width");
    assert_eq!(
        w.data.len(),
        w.rows * w.row_bytes(),
        "matmul_q8: weight bytes"
    );
    #[cfg(target_arch = "x86_64")]
    {
        pk.pack(qa, w.ty == GgmlType::Q8_0);
        // SAFETY: `tiled`: the selected path is AVX-512, which `Path::is_supported` checked (F,
        // BW, VL, VNNI, AVX2, FMA, F16C); shapes are checked above and `pk` holds `qa`.
        unsafe { x86::tiles(w, pk, sink) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (pk, sink);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{BLOCK, LANES, Packed, QK, R};
    use weft_kernels::GgmlType;
    use weft_kernels::cpu::matvec::WeightView;

    /// # Safety
    /// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C present; `w` is Q8_0 or Q4_0 with
    /// `data.len() == rows · row_bytes`; `pk` packed from activations of `w.cols` columns;
    /// results go to `sink(token, first row, values of consecutive rows)`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[allow(clippy::needless_range_loop)] // `l` indexes the inner arrays
    pub(super) unsafe fn tiles(
        w: &WeightView,
        pk: &mut Packed,
        mut sink: impl FnMut(usize, usize, &[f32]),
    ) {
        let (m, t) = (w.rows, pk.tokens);
        assert_eq!(pk.nb * QK, w.cols);
        let mut out = [[0.0f32; R]; LANES];
        // Blocks of row tiles outside, token groups inside: a block's rows (R · BLOCK × row
        // bytes) stay in L2 while every group passes over them.
        for b0 in (0..m).step_by(R * BLOCK) {
            let tiles = (m - b0).div_ceil(R).min(BLOCK);
            for i in 0..tiles {
                let (r0, at) = (b0 + i * R, pk.tile_range(i));
                if w.ty == GgmlType::Q8_0 {
                    wsums(w, r0, pk.nb, &mut pk.wsum[at.clone()]);
                }
                wscales(w, r0, pk.nb, &mut pk.wscale[at]);
            }
            let pk = &*pk;
            for g in 0..pk.groups {
                let nt = (t - g * LANES).min(LANES);
                for i in 0..tiles {
                    let r0 = b0 + i * R;
                    // SAFETY: as this function's contract; `g < groups`, `i < BLOCK`.
                    unsafe {
                        match w.ty {
                            GgmlType::Q8_0 => tile::<false>(w, r0, pk, i, g, &mut out),
                            _ => tile::<true>(w, r0, pk, i, g, &mut out),
                        }
                    }
                    let nr = (m - r0).min(R);
                    for (l, v) in out[..nt].iter().enumerate() {
                        sink(g * LANES + l, r0, &v[..nr]);
                    }
                }
            }
        }
    }

    /// `wscale[b·R + k]` = the fp16 scale of block b of row `r0 + k` as f32 (exact), converted
    /// once per row tile instead of once per token group.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    fn wscales(w: &WeightView, r0: usize, nb: usize, wscale: &mut [f32]) {
        const { assert!(R == 8) };
        let (rb, bb) = (w.row_bytes(), if w.ty == GgmlType::Q8_0 { 34 } else { 18 });
        assert_eq!(rb, nb * bb);
        assert!(wscale.len() >= nb * R);
        let rows: [&[u8]; R] = std::array::from_fn(|k| {
            let r = (r0 + k).min(w.rows - 1);
            &w.data[r * rb..(r + 1) * rb]
        });
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
        let base = w.data.as_ptr();
        // SAFETY: every row index is < rows, so each row's `rb` bytes are in bounds.
        let rows: [*const u8; R] =
            std::array::from_fn(|k| unsafe { base.add((r0 + k).min(w.rows - 1) * rb) });
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
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    unsafe fn tile<const Q4: bool>(
        w: &WeightView,
        r0: usize,
        pk: &Packed,
        slot: usize,
        g: usize,
        out: &mut [[f32; R]; LANES],
    ) {
        let (m, rb, nb) = (w.rows, w.row_bytes(), pk.nb);
        let at = pk.tile_range(slot);
        let (wsum, wscale) = (&pk.wsum[at.clone()], &pk.wscale[at]);
        let bb = if Q4 { 18 } else { 34 };
        let base = w.data.as_ptr();
        // SAFETY: every row index is < m, so each row's `rb` bytes are in bounds.
        let rows: [*const u8; R] =
            std::array::from_fn(|k| unsafe { base.add((r0 + k).min(m - 1) * rb) });
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
                let x: [__m512i; 8] = std::array::from_fn(|j| {
                    _mm512_loadu_si512(xs.add((b * 8 + j) * LANES * 4).cast())
                });
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
                    isum =
                        std::array::from_fn(|k| _mm512_set1_epi32(*wsum.get_unchecked(b * R + k)));
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
                out[4 * j + i + 8] =
                    _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
            }
        }
        out
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

    /// Bit for bit the scalar reference, for row counts around the tile height and token
    /// counts around the 16 lanes; the packed buffer is reused (stale lanes must not leak).
    #[test]
    fn tiles_equal_the_scalar_reference() {
        let mut s = 0x1234_5678_9abc_def1u64;
        let mut pk = Packed::new(256, 40);
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0] {
            for (rows, cols, t) in [
                (1, 32, 1),
                (5, 64, 3),
                (8, 96, 17),
                (13, 256, 9),
                (4, 32, 7),
                (17, 128, 40),
                (9, 64, 16),
                (3, 32, 33),
                // Several blocks of row tiles, the last one partial.
                (64, 32, 16),
                (70, 64, 20),
                (137, 96, 35),
            ] {
                let vals: Vec<f32> = (0..rows * cols).map(|_| rng(&mut s)).collect();
                let data = quant::quantize(ty, &vals).unwrap();
                let w = WeightView::new(ty, &data, rows, cols).unwrap();
                let x: Vec<f32> = (0..t * cols).map(|_| rng(&mut s) * 3.0).collect();
                let mut qa = Q8Act::new(cols, t);
                qa.quantize(&x, cols);
                let (mut a, mut b) = (vec![0.0; t * rows], vec![0.0; t * rows]);
                matmul_q8(&w, &qa, &mut pk, &mut a);
                matvec_q8::matmul_q8_rows_scalar(&w, &qa, &mut b, 0..rows);
                assert!(
                    a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{ty} {rows}x{cols} t={t}: {a:?} vs {b:?}"
                );
            }
        }
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use weft_kernels::GgmlType;
    use weft_kernels::quant;

    /// `cargo test --release -p weft --lib tiles_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn tiles_speed() {
        for ty in [GgmlType::Q8_0, GgmlType::Q4_0] {
            for (rows, cols, t) in [(3352, 768, 64), (768, 1536, 64)] {
                let vals: Vec<f32> = (0..rows * cols)
                    .map(|i| ((i * 7919) % 200) as f32 / 100.0 - 1.0)
                    .collect();
                let data = quant::quantize(ty, &vals).unwrap();
                let w = WeightView::new(ty, &data, rows, cols).unwrap();
                let x: Vec<f32> = (0..t * cols)
                    .map(|i| ((i * 31) % 97) as f32 / 50.0 - 1.0)
                    .collect();
                let mut qa = Q8Act::new(cols, t);
                qa.quantize(&x, cols);
                let mut pk = Packed::new(cols, t);
                let mut y = vec![0.0; t * rows];
                let mut best = f64::MAX;
                for _ in 0..20 {
                    let s = std::time::Instant::now();
                    matmul_q8(&w, &qa, &mut pk, &mut y);
                    best = best.min(s.elapsed().as_secs_f64());
                }
                let mut best_old = f64::MAX;
                for _ in 0..5 {
                    let s = std::time::Instant::now();
                    matvec_q8::matmul_q8(&w, &qa, &mut y);
                    best_old = best_old.min(s.elapsed().as_secs_f64());
                }
                let mac = (rows * cols * t) as f64;
                eprintln!(
                    "{ty} {rows}x{cols} t={t}: tiles {:.1} GMAC/s ({:.0} us), per-token kernel {:.1} GMAC/s",
                    mac / best / 1e9,
                    best * 1e6,
                    mac / best_old / 1e9
                );
            }
        }
    }
}
