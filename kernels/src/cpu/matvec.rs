//! y = W·x over a weight matrix stored in any computable ggml type, read in place.
//!
//! Scalar reference (`*_scalar`): weights are dequantized a block (or, for float types, up to
//! [`PIECE`] elements) at a time into a stack buffer and dotted in f32 in the canonical order of
//! [`super::dot`]. The public entry points dispatch to the SIMD path of
//! [`super::dispatch::selected_path`] (4-row blocks, in-register dequantization, f32 FMA; see
//! `super::rows`). On each path matvec, matvec_rows and matmul give bit-identical results; paths
//! differ from each other only in f32 summation order. Nothing here allocates.
//!
//! Shapes: [`WeightView::new`] validates the weight; the slice lengths of `x`/`y` are asserted
//! (callers — the engine — validate shapes once at load time; a mismatch is a programming error).

use std::ops::Range;

use super::arch;
use super::dispatch::{Path, selected_path};
use super::dot::{CHUNK, dot_chunk};
use crate::dtype::GgmlType;
use half::f16;
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};

use crate::quant::{bf16_to_f32, dequantize_block};

/// Elements decoded per step: one K-quant super-block; float types decode this many at a time.
pub const PIECE: usize = 256;

/// A row-major weight matrix: `rows` output features, each a row of `cols` (= ggml ne0, the
/// input dimension) elements stored in `ty.row_bytes(cols)` bytes. Build it with
/// [`WeightView::new`]; a hand-built inconsistent view makes the kernels panic.
#[derive(Clone, Copy, Debug)]
pub struct WeightView<'a> {
    pub ty: GgmlType,
    pub data: &'a [u8],
    pub rows: usize,
    pub cols: usize,
}

/// Why a [`WeightView`] cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    #[error("weights of type {0} are not supported by the CPU kernels")]
    Unsupported(GgmlType),
    #[error("{ty}: row length {cols} is not a multiple of the block size {block}")]
    ColsNotBlockMultiple {
        ty: GgmlType,
        cols: usize,
        block: usize,
    },
    #[error("{ty} [{rows} x {cols}]: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        ty: GgmlType,
        rows: usize,
        cols: usize,
        expected: usize,
        actual: usize,
    },
    #[error("{ty} [{rows} x {cols}]: byte size overflows")]
    Overflow {
        ty: GgmlType,
        rows: usize,
        cols: usize,
    },
}

impl<'a> WeightView<'a> {
    /// Checked constructor: type computable, `cols` a whole number of blocks, and
    /// `data.len() == rows · ty.row_bytes(cols)` exactly.
    pub fn new(
        ty: GgmlType,
        data: &'a [u8],
        rows: usize,
        cols: usize,
    ) -> Result<Self, WeightError> {
        if !ty.is_computable() {
            return Err(WeightError::Unsupported(ty));
        }
        let rb = ty
            .row_bytes(cols)
            .ok_or(WeightError::ColsNotBlockMultiple {
                ty,
                cols,
                block: ty.block_size(),
            })?;
        let expected = rb
            .checked_mul(rows)
            .ok_or(WeightError::Overflow { ty, rows, cols })?;
        if data.len() != expected {
            return Err(WeightError::SizeMismatch {
                ty,
                rows,
                cols,
                expected,
                actual: data.len(),
            });
        }
        Ok(WeightView {
            ty,
            data,
            rows,
            cols,
        })
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        self.ty.row_bytes(self.cols).expect("validated view")
    }

    /// The encoded bytes of row `r` (panics if `r >= rows`).
    pub fn row(&self, r: usize) -> &'a [u8] {
        let rb = self.row_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }

    pub(crate) fn check(&self) {
        assert!(
            self.ty.is_computable(),
            "unsupported weight type {}",
            self.ty
        );
        let rb = self
            .ty
            .row_bytes(self.cols)
            .expect("cols not a block multiple");
        assert_eq!(self.data.len(), rb * self.rows, "weight byte size");
    }
}

/// Calls `f(start, piece)` for consecutive decoded pieces of one encoded row of `cols` elements.
/// Pieces are whole blocks (float types: up to `PIECE` elements) and multiples of `CHUNK`
/// except possibly the last piece of a float row.
#[inline]
fn for_each_piece(ty: GgmlType, row: &[u8], cols: usize, mut f: impl FnMut(usize, &[f32])) {
    let mut buf = [0.0f32; PIECE];
    match ty {
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => {
            let es = ty.block_bytes();
            for (p, bytes) in row.chunks(PIECE * es).enumerate() {
                let n = bytes.len() / es;
                let out = &mut buf[..n];
                match ty {
                    GgmlType::F32 => {
                        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        }
                    }
                    GgmlType::F16 => {
                        // Slice conversion: `half` picks F16C/NEON once per call, where the
                        // per-element path re-dispatches every value (~5x slower).
                        let mut bits = [0u16; PIECE];
                        for (h, b) in bits.iter_mut().zip(bytes.chunks_exact(2)) {
                            *h = u16::from_le_bytes([b[0], b[1]]);
                        }
                        bits[..n]
                            .reinterpret_cast::<f16>()
                            .convert_to_f32_slice(out);
                    }
                    _ => {
                        for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                            *o = bf16_to_f32(u16::from_le_bytes([b[0], b[1]]));
                        }
                    }
                }
                f(p * PIECE, out);
            }
        }
        _ => {
            let (bs, bb) = (ty.block_size(), ty.block_bytes());
            debug_assert_eq!(row.len(), cols / bs * bb);
            for (i, block) in row.chunks_exact(bb).enumerate() {
                let out = &mut buf[..bs];
                dequantize_block(ty, block, out);
                f(i * bs, out);
            }
        }
    }
}

/// Row dot product in the canonical order.
#[inline]
fn dot_row(w: &WeightView, r: usize, x: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for_each_piece(w.ty, w.row(r), w.cols, |start, piece| {
        let xs = &x[start..start + piece.len()];
        for (a, b) in piece.chunks(CHUNK).zip(xs.chunks(CHUNK)) {
            s += dot_chunk(a, b);
        }
    });
    s
}

/// y = W·x. `x.len() == w.cols`, `y.len() == w.rows`.
pub fn matvec(w: &WeightView, x: &[f32], y: &mut [f32]) {
    assert_eq!(y.len(), w.rows, "matvec: y length");
    matvec_rows(w, x, y, 0..w.rows);
}

/// [`matvec`] with the scalar reference kernels.
pub fn matvec_scalar(w: &WeightView, x: &[f32], y: &mut [f32]) {
    assert_eq!(y.len(), w.rows, "matvec: y length");
    matvec_rows_on(Path::Scalar, w, x, y, 0..w.rows);
}

/// y_rows[i] = (W·x)[rows.start + i]: a row range of the output (for threading: split `y` with
/// `split_at_mut` and give each thread its range). `y_rows.len() == rows.len()`.
pub fn matvec_rows(w: &WeightView, x: &[f32], y_rows: &mut [f32], rows: Range<usize>) {
    matvec_rows_on(selected_path(), w, x, y_rows, rows);
}

/// [`matvec_rows`] with the scalar reference kernels.
pub fn matvec_rows_scalar(w: &WeightView, x: &[f32], y_rows: &mut [f32], rows: Range<usize>) {
    matvec_rows_on(Path::Scalar, w, x, y_rows, rows);
}

/// [`matvec_rows`] on a given path (panics if the CPU does not support it). Types without a
/// SIMD kernel on that path (Q4_K, Q6_K) run the scalar reference.
pub fn matvec_rows_on(
    path: Path,
    w: &WeightView,
    x: &[f32],
    y_rows: &mut [f32],
    rows: Range<usize>,
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    w.check();
    assert_eq!(x.len(), w.cols, "matvec: x length");
    assert!(
        rows.start <= rows.end && rows.end <= w.rows,
        "matvec: row range"
    );
    assert_eq!(y_rows.len(), rows.len(), "matvec: y_rows length");
    match arch::dot4_f32act(path, w.ty) {
        Some(k) => super::rows::matvec_rows(w, x, y_rows, rows, |r, x| k.call(r, x)),
        None => {
            for (yr, r) in y_rows.iter_mut().zip(rows) {
                *yr = dot_row(w, r, x);
            }
        }
    }
}

/// Prefill: y[ti, :] = W·x[ti, :] for `t` tokens. `x` is `[t, cols]`, `y` is `[t, rows]`, both
/// row-major. Each weight row (block of rows) is decoded once for all tokens; results are
/// bit-identical to `t` calls of [`matvec`] on the same path.
pub fn matmul(w: &WeightView, x: &[f32], t: usize, y: &mut [f32]) {
    matmul_rows(w, x, t, y, 0..w.rows);
}

/// [`matmul`] with the scalar reference kernels.
pub fn matmul_scalar(w: &WeightView, x: &[f32], t: usize, y: &mut [f32]) {
    matmul_rows_on(Path::Scalar, w, x, t, y, 0..w.rows);
}

/// [`matmul`] restricted to the output features `rows`: writes `y[ti * w.rows + r]` for
/// `r` in `rows` only (`y` is the full `[t, w.rows]` output).
pub fn matmul_rows(w: &WeightView, x: &[f32], t: usize, y: &mut [f32], rows: Range<usize>) {
    matmul_rows_on(selected_path(), w, x, t, y, rows);
}

/// [`matmul_rows`] with the scalar reference kernels.
pub fn matmul_rows_scalar(w: &WeightView, x: &[f32], t: usize, y: &mut [f32], rows: Range<usize>) {
    matmul_rows_on(Path::Scalar, w, x, t, y, rows);
}

/// [`matmul_rows`] on a given path (panics if the CPU does not support it).
pub fn matmul_rows_on(
    path: Path,
    w: &WeightView,
    x: &[f32],
    t: usize,
    y: &mut [f32],
    rows: Range<usize>,
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    w.check();
    let (n, m) = (w.cols, w.rows);
    assert_eq!(x.len(), t * n, "matmul: x length");
    assert_eq!(y.len(), t * m, "matmul: y length");
    assert!(rows.start <= rows.end && rows.end <= m, "matmul: row range");
    if let Some(k) = arch::dot4_f32act(path, w.ty) {
        let x_of = |ti: usize| &x[ti * n..(ti + 1) * n];
        super::rows::matmul_rows(w, 0..t, x_of, y, rows, |r, x| k.call(r, x));
        return;
    }
    for r in rows {
        for ti in 0..t {
            y[ti * m + r] = 0.0;
        }
        for_each_piece(w.ty, w.row(r), n, |start, piece| {
            for ti in 0..t {
                let xs = &x[ti * n + start..ti * n + start + piece.len()];
                let mut s = y[ti * m + r];
                for (a, b) in piece.chunks(CHUNK).zip(xs.chunks(CHUNK)) {
                    s += dot_chunk(a, b);
                }
                y[ti * m + r] = s;
            }
        });
    }
}

/// Decode row `row` into `out` (`out.len() == w.cols`): embedding lookup.
pub fn dequantize_row_into(w: &WeightView, row: usize, out: &mut [f32]) {
    w.check();
    assert!(row < w.rows, "dequantize_row_into: row {row} >= {}", w.rows);
    assert_eq!(out.len(), w.cols, "dequantize_row_into: out length");
    for_each_piece(w.ty, w.row(row), w.cols, |start, piece| {
        out[start..start + piece.len()].copy_from_slice(piece);
    });
}

#[cfg(test)]
#[path = "matvec_tests.rs"]
mod tests;
