//! Prefill int8 matmul (AVX-512 VNNI in `avx512.rs`, AVX2 in `avx2.rs`, NEON dotprod in
//! `neon.rs`): register tiles of R weight rows × 16 tokens with the tokens in the vector lanes.
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
//!
//! AVX2 has no `vpdpbusd`: its tiles multiply with `vpmaddubsw` + `vpmaddwd` on 8 tokens at a
//! time (see `avx2.rs`). On the Zen 4 VM (`WEFT_PATH=avx2`, `tiles_speed`, one core) they run
//! Q8_0 at 51 GMAC/s and Q4_0 at 85-89, where the per-token kernel ran 32 and 28; the AVX-512
//! tiles run 144-150 and 124-128.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
use crate::GgmlType;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
use crate::cpu::dispatch::{Path, selected_path};
use crate::cpu::matvec::WeightView;
use crate::cpu::matvec_q8::{self, Q8Act};

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

/// Bytes per block of the tiles' weights: Q4_0 (`q4`) or Q8_0.
const fn block_bytes(q4: bool) -> usize {
    if q4 {
        crate::quant::Q4_0_BYTES
    } else {
        crate::quant::Q8_0_BYTES
    }
}

/// The rows of the row tile at `r0` (rows past the end repeat the last row, so every tile
/// computes R rows the same way).
fn tile_rows<'a>(w: &WeightView<'a>, r0: usize) -> [&'a [u8]; R] {
    std::array::from_fn(|k| w.row((r0 + k).min(w.rows - 1)))
}

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
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )] // read by the tiles
    wsum: Vec<i32>,
    /// Per row tile of a block: each row's block scales as f32, `[BLOCK][nb][R]`.
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )] // read by the tiles
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
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_arch = "aarch64")),
        allow(dead_code)
    )] // read by the tiles
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
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return kernel(selected_path(), w.ty).is_some();
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = w;
        false
    }
}

/// `y` = `[qa.tokens(), w.rows]`, row `ti` = W·x_ti (as [`matvec_q8::matmul_q8_rows_scalar`]).
/// `pk` is scratch for the interleaved activations.
pub fn matmul_q8(w: &WeightView, qa: &Q8Act, pk: &mut Packed, y: &mut [f32]) {
    matmul_q8_on(selected(), w, qa, pk, y);
}

/// The selected kernel path (a placeholder where no tiles exist).
fn selected() -> Option<crate::cpu::dispatch::Path> {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    return Some(selected_path());
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    None
}

/// [`matmul_q8`] with the tiles of `path` (which must be supported) where it has them.
fn matmul_q8_on(
    path: Option<crate::cpu::dispatch::Path>,
    w: &WeightView,
    qa: &Q8Act,
    pk: &mut Packed,
    y: &mut [f32],
) {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if let Some(k) = path.and_then(|p| kernel(p, w.ty)) {
        assert_eq!(y.len(), qa.tokens() * w.rows, "matmul_q8: y length");
        let m = w.rows;
        run(w, qa, pk, k, |ti, r0, v| copy_row(&mut y[ti * m + r0..], v));
        return;
    }
    let _ = (pk, path);
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
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    if let Some(k) = kernel(selected_path(), w.ty) {
        run(w, qa, pk, k, sink);
        return;
    }
    let _ = (qa, pk, sink);
    panic!("matmul_q8_to: no tiles for {} here", w.ty);
}

/// Checks the shapes, packs `qa` as `k` expects and runs its tiles.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn run(
    w: &WeightView,
    qa: &Q8Act,
    pk: &mut Packed,
    k: Kernel,
    sink: impl FnMut(usize, usize, &[f32]),
) {
    assert_eq!(qa.cols(), w.cols, "matmul_q8: activation width");
    assert_eq!(
        w.data.len(),
        w.rows * w.row_bytes(),
        "matmul_q8: weight bytes"
    );
    pk.pack(qa, k.flip);
    // SAFETY: `k` comes from `kernel` for a supported path (the selected one, or one a test
    // checked) and `w.ty`; the shapes are checked above and `pk` now holds `qa` as `k` expects.
    unsafe { tiles(w, pk, k, sink) };
}

/// A tile kernel: `out[l][k]` = row `r0 + k` · token `16g + l` (rows past the end repeat the
/// last row), with the row tile's sums and scales in the block's `slot`.
///
/// # Safety
/// The CPU has the kernel's features; `w` is the kernel's type with
/// `data.len() == rows · row_bytes`; `pk` holds activations of `w.cols` columns packed as the
/// kernel expects ([`Kernel::flip`]), `g < pk.groups`, `slot < BLOCK`, prepared for `r0`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type TileFn = unsafe fn(&WeightView, usize, &Packed, usize, usize, &mut [[f32; R]; LANES]);

/// A row tile's preparation, once before its token groups: `(w, r0, nb, wsum, wscale)` fills
/// the slot's sums and scales. Safety as [`TileFn`].
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
type PrepFn = unsafe fn(&WeightView, usize, usize, &mut [i32], &mut [f32]);

/// The tiles for one weight type on one path.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[derive(Clone, Copy)]
struct Kernel {
    tile: TileFn,
    prep: PrepFn,
    /// Pack the activations as `x + 128` (u8).
    flip: bool,
}

/// The tiles for `ty` on `path`, if any (the path must be supported: the kernels need its
/// features).
#[cfg(target_arch = "x86_64")]
fn kernel(path: Path, ty: GgmlType) -> Option<Kernel> {
    let k = |tile, prep, flip| Some(Kernel { tile, prep, flip });
    match (path, ty) {
        (Path::Avx512 | Path::Avx512Vbmi, GgmlType::Q8_0) => {
            k(avx512::tile::<false>, avx512::prep_q8, true)
        }
        (Path::Avx512 | Path::Avx512Vbmi, GgmlType::Q4_0) => {
            k(avx512::tile::<true>, avx2::prep, false)
        }
        (Path::Avx2, GgmlType::Q8_0) => k(avx2::tile::<false>, avx2::prep, false),
        (Path::Avx2, GgmlType::Q4_0) => k(avx2::tile::<true>, avx2::prep, false),
        _ => None,
    }
}

/// The tiles for `ty` on `path`, if any (see the x86-64 version).
#[cfg(target_arch = "aarch64")]
fn kernel(path: Path, ty: GgmlType) -> Option<Kernel> {
    let k = |tile, prep| {
        Some(Kernel {
            tile,
            prep,
            flip: false,
        })
    };
    match (path, ty) {
        (Path::NeonDotprod, GgmlType::Q8_0) => k(neon::tile::<false>, neon::prep),
        (Path::NeonDotprod, GgmlType::Q4_0) => k(neon::tile::<true>, neon::prep),
        _ => None,
    }
}

/// Runs the tiles of `k` over `w` and the packed activations.
///
/// # Safety
/// As [`TileFn`] for every row tile of `w`; `pk` packed from activations of `w.cols` columns
/// as `k` expects.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
unsafe fn tiles(
    w: &WeightView,
    pk: &mut Packed,
    k: Kernel,
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
            let at = pk.tile_range(i);
            // SAFETY: the caller's contract; `at` is the slot's range.
            unsafe {
                (k.prep)(
                    w,
                    b0 + i * R,
                    pk.nb,
                    &mut pk.wsum[at.clone()],
                    &mut pk.wscale[at],
                );
            }
        }
        let pk = &*pk;
        // The next block's weights, a share of its lines after each tile call: its
        // preparation is the first read of those rows and otherwise waits on DRAM.
        let rb = w.data.len() / m;
        let next = ((b0 + R * BLOCK) * rb).min(w.data.len())
            ..((b0 + 2 * R * BLOCK) * rb).min(w.data.len());
        let per_call = next.len().div_ceil(LINE).div_ceil(pk.groups * tiles);
        let mut ahead = next.start;
        for g in 0..pk.groups {
            let nt = (t - g * LANES).min(LANES);
            for i in 0..tiles {
                let r0 = b0 + i * R;
                // SAFETY: the caller's contract; `g < groups`, `i < BLOCK`, slot i prepared
                // for r0 above.
                unsafe { (k.tile)(w, r0, pk, i, g, &mut out) };
                for _ in 0..per_call {
                    if ahead < next.end {
                        prefetch_l2(w.data[ahead..].as_ptr());
                        ahead += LINE;
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

/// Cache line bytes the tile loop prefetches by.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const LINE: usize = 64;

/// A hint to bring the line at `p` into L2 (never faults).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
fn prefetch_l2(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing architecturally and cannot fault (SSE,
    // part of the x86-64 baseline).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(p.cast())
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: PRFM is a hint: it cannot fault or change architectural state.
    unsafe {
        std::arch::asm!("prfm pldl2keep, [{p}]", p = in(reg) p, options(nostack, preserves_flags, readonly))
    };
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::GgmlType;
    use crate::quant;

    fn rng(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 20001) as f32 / 10000.0 - 1.0
    }

    /// The paths with tiles this CPU runs (AVX-512 and AVX2 on a recent x86-64).
    fn tile_paths() -> Vec<Path> {
        Path::ALL
            .into_iter()
            .filter(|p| p.is_supported() && kernel(*p, GgmlType::Q8_0).is_some())
            .collect()
    }

    /// Bit for bit the scalar reference on every path with tiles, for row counts around the
    /// tile height and token counts around the 16 lanes; the packed buffer is reused across
    /// paths and shapes (stale lanes must not leak).
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
                let mut b = vec![0.0; t * rows];
                matvec_q8::matmul_q8_rows_scalar(&w, &qa, &mut b, 0..rows);
                for path in tile_paths() {
                    let mut a = vec![0.0; t * rows];
                    matmul_q8_on(Some(path), &w, &qa, &mut pk, &mut a);
                    assert!(
                        a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                        "{path} {ty} {rows}x{cols} t={t}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use crate::GgmlType;
    use crate::quant;

    /// `cargo test --release -p weft-kernels --lib tiles_speed -- --ignored --nocapture`
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
