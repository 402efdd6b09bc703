//! Integer matvec for Q8_0 / Q4_0 weights (the llama.cpp scheme): the activation is quantized
//! once per matvec to int8 blocks of 32 with an f32 scale ([`Q8Act`]), then every weight block
//! is an exact int32 dot product scaled by `d_w · d_x`:
//!
//! `y[r] = Σ_b (d_w[r,b] · d_x[b]) · Σ_j q_w[r,b,j] · q_x[b,j]`  (f32 sum over blocks `b`).
//!
//! This reads the weights at their stored width and multiplies in int8 (AVX2 `maddubs`,
//! AVX-512 VNNI `vpdpbusd`, NEON `sdot`). It adds the activation's int8 rounding error to the
//! result: on Gaussian data about 0.5% relative RMS error against the f32 [`super::matvec`]
//! path (the bound the tests hold is 1%; see `int8_scheme_error_vs_f32_path`).
//!
//! `*_scalar` functions are the reference of exactly this scheme. The SIMD paths compute the
//! same products exactly in int32, in partial sums ("lanes") of a few elements each, and sum
//! `(d_w·d_x)·lane` in f32: they differ from the reference only in rounding, bounded by
//! 2·(blocks + 16)·ε·Σ_j |d_w·d_x·q_w,j·q_x,j| (tests/simd_q8.rs). The AVX2 and
//! NEON kernels sum each block in one int32 and so equal the reference exactly.
//! The engine allocates a [`Q8Act`] once (session init); quantizing into it never allocates.

use std::ops::Range;

use super::dispatch::{Path, selected_path};
use super::matvec::WeightView;
use super::rows;
use crate::dtype::GgmlType;
use crate::quant::{Q4_0_BYTES, Q8_0_BYTES, QK8_0, f16_to_f32};

/// `t` activation rows quantized to int8 blocks of 32 elements, each with an f32 scale
/// `d = amax/127` (kept in f32, not fp16 as in ggml's Q8_0: one rounding less).
#[derive(Clone, Debug)]
pub struct Q8Act {
    qs: Vec<i8>,
    d: Vec<f32>,
    cols: usize,
    tokens: usize,
}

/// One quantized activation row, as the kernels read it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Q8Row<'a> {
    pub qs: &'a [i8],
    pub d: &'a [f32],
}

impl Q8Act {
    /// Room for `max_tokens` rows of up to `max_cols` elements (any split of that many
    /// elements into rows of a multiple of 32). This is the only allocation.
    pub fn new(max_cols: usize, max_tokens: usize) -> Self {
        let n = max_cols
            .checked_mul(max_tokens)
            .expect("Q8Act size overflows");
        Q8Act {
            qs: vec![0; n],
            d: vec![0.0; n / QK8_0],
            cols: 0,
            tokens: 0,
        }
    }

    /// Elements this buffer can hold.
    pub fn capacity(&self) -> usize {
        self.qs.len()
    }

    /// Elements per quantized row (0 before the first `quantize`).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Quantized rows held.
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// Quantize `x` = `[t, cols]` row-major (`cols % 32 == 0`, `t·cols ≤ capacity`); values must
    /// be finite. Per block: `d = amax/127`, `q = round_ties_even(x/d)` computed as `x·(1/d)`
    /// (0 for an all-zero block). Every path produces identical bytes.
    pub fn quantize(&mut self, x: &[f32], cols: usize) {
        self.quantize_on(selected_path(), x, cols);
    }

    /// [`Q8Act::quantize`] with the scalar reference code.
    pub fn quantize_scalar(&mut self, x: &[f32], cols: usize) {
        self.quantize_on(Path::Scalar, x, cols);
    }

    /// [`Q8Act::quantize`] on a given path (panics if the CPU does not support it).
    pub fn quantize_on(&mut self, path: Path, x: &[f32], cols: usize) {
        assert!(path.is_supported(), "path {path} not supported by this CPU");
        assert!(
            cols > 0 && cols.is_multiple_of(QK8_0),
            "Q8Act: cols {cols} not a multiple of 32"
        );
        assert!(x.len().is_multiple_of(cols), "Q8Act: x length");
        assert!(x.len() <= self.qs.len(), "Q8Act: capacity exceeded");
        let nb = x.len() / QK8_0;
        let (qs, d) = (&mut self.qs[..x.len()], &mut self.d[..nb]);
        if !super::arch::quantize_q8(path, x, qs, d) {
            quantize_blocks_scalar(x, qs, d);
        }
        self.cols = cols;
        self.tokens = x.len() / cols;
    }

    /// Quantize `t` rows of `cols` elements, row `i` being `row(i)`: the same bytes as
    /// [`Q8Act::quantize`] of their concatenation (blocks never span rows), without copying
    /// them together first.
    pub fn quantize_rows<'a>(&mut self, cols: usize, t: usize, row: impl Fn(usize) -> &'a [f32]) {
        let path = selected_path();
        assert!(
            cols > 0 && cols.is_multiple_of(QK8_0),
            "Q8Act: cols {cols} not a multiple of 32"
        );
        assert!(t * cols <= self.qs.len(), "Q8Act: capacity exceeded");
        let nb = cols / QK8_0;
        for i in 0..t {
            let x = row(i);
            assert_eq!(x.len(), cols, "Q8Act: row {i} length");
            let (qs, d) = (
                &mut self.qs[i * cols..(i + 1) * cols],
                &mut self.d[i * nb..(i + 1) * nb],
            );
            if !super::arch::quantize_q8(path, x, qs, d) {
                quantize_blocks_scalar(x, qs, d);
            }
        }
        self.cols = cols;
        self.tokens = t;
    }

    /// The int8 quants of row `t` (for tests and debugging).
    pub fn quants(&self, t: usize) -> &[i8] {
        &self.qs[t * self.cols..(t + 1) * self.cols]
    }

    /// The block scales of row `t`.
    pub fn scales(&self, t: usize) -> &[f32] {
        let nb = self.cols / QK8_0;
        &self.d[t * nb..(t + 1) * nb]
    }

    pub(crate) fn row(&self, t: usize) -> Q8Row<'_> {
        Q8Row {
            qs: self.quants(t),
            d: self.scales(t),
        }
    }
}

/// The reference quantizer (the SIMD ones must produce the same bytes).
fn quantize_blocks_scalar(x: &[f32], qs: &mut [i8], d: &mut [f32]) {
    for ((xb, qb), db) in x
        .chunks_exact(QK8_0)
        .zip(qs.chunks_exact_mut(QK8_0))
        .zip(d.iter_mut())
    {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let id = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        for (q, &v) in qb.iter_mut().zip(xb) {
            *q = (v * id).round_ties_even() as i8;
        }
        *db = scale;
    }
}

/// Weight types the int8 kernels take.
pub fn supports(ty: GgmlType) -> bool {
    matches!(ty, GgmlType::Q8_0 | GgmlType::Q4_0)
}

fn check(w: &WeightView, qa: &Q8Act) {
    assert!(
        supports(w.ty),
        "int8 matvec: unsupported weight type {}",
        w.ty
    );
    assert_eq!(
        w.data.len(),
        w.rows * w.row_bytes(),
        "int8 matvec: weight byte size"
    );
    assert_eq!(
        qa.cols, w.cols,
        "int8 matvec: activation has {} cols",
        qa.cols
    );
}

/// y = W·x for one quantized token (`qa.tokens() == 1`).
pub fn matvec_q8(w: &WeightView, qa: &Q8Act, y: &mut [f32]) {
    assert_eq!(y.len(), w.rows, "matvec_q8: y length");
    matvec_q8_rows(w, qa, y, 0..w.rows);
}

/// Output rows `rows` of [`matvec_q8`] into `y_rows` (`y_rows.len() == rows.len()`).
pub fn matvec_q8_rows(w: &WeightView, qa: &Q8Act, y_rows: &mut [f32], rows: Range<usize>) {
    matvec_q8_rows_on(selected_path(), w, qa, y_rows, rows);
}

/// [`matvec_q8_rows`] with the scalar reference.
pub fn matvec_q8_rows_scalar(w: &WeightView, qa: &Q8Act, y: &mut [f32], rows: Range<usize>) {
    matvec_q8_rows_on(Path::Scalar, w, qa, y, rows);
}

/// [`matvec_q8_rows`] on a given path (panics if the CPU does not support it).
pub fn matvec_q8_rows_on(
    path: Path,
    w: &WeightView,
    qa: &Q8Act,
    y_rows: &mut [f32],
    rows: Range<usize>,
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    check(w, qa);
    assert_eq!(
        qa.tokens, 1,
        "matvec_q8: activation holds {} tokens",
        qa.tokens
    );
    assert!(
        rows.start <= rows.end && rows.end <= w.rows,
        "matvec_q8: row range"
    );
    assert_eq!(y_rows.len(), rows.len(), "matvec_q8: y_rows length");
    let x = qa.row(0);
    match super::arch::dot4_q8act(path, w.ty) {
        Some(k) => rows::matvec_rows(w, x, y_rows, rows, |r, x| k.call(r, x)),
        None => {
            for (y, r) in y_rows.iter_mut().zip(rows) {
                *y = dot_scalar(w.ty, w.row(r), x);
            }
        }
    }
}

/// Prefill: y = `[t, w.rows]` with row ti = W·x_ti for the `t = qa.tokens()` quantized tokens.
pub fn matmul_q8(w: &WeightView, qa: &Q8Act, y: &mut [f32]) {
    matmul_q8_rows(w, qa, y, 0..w.rows);
}

/// [`matmul_q8`] restricted to output features `rows` (`y` is the full `[t, w.rows]`).
pub fn matmul_q8_rows(w: &WeightView, qa: &Q8Act, y: &mut [f32], rows: Range<usize>) {
    matmul_q8_rows_on(selected_path(), w, qa, y, rows);
}

/// [`matmul_q8_rows`] with the scalar reference.
pub fn matmul_q8_rows_scalar(w: &WeightView, qa: &Q8Act, y: &mut [f32], rows: Range<usize>) {
    matmul_q8_rows_on(Path::Scalar, w, qa, y, rows);
}

/// [`matmul_q8_rows`] on a given path (panics if the CPU does not support it).
pub fn matmul_q8_rows_on(
    path: Path,
    w: &WeightView,
    qa: &Q8Act,
    y: &mut [f32],
    rows: Range<usize>,
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    check(w, qa);
    let t = qa.tokens;
    assert_eq!(y.len(), t * w.rows, "matmul_q8: y length");
    assert!(
        rows.start <= rows.end && rows.end <= w.rows,
        "matmul_q8: row range"
    );
    match super::arch::dot4_q8act(path, w.ty) {
        Some(k) => rows::matmul_rows(w, 0..t, |ti| qa.row(ti), y, rows, |r, x| k.call(r, x)),
        None => {
            for r in rows {
                for ti in 0..t {
                    y[ti * w.rows + r] = dot_scalar(w.ty, w.row(r), qa.row(ti));
                }
            }
        }
    }
}

/// Reference dot of one weight row with a quantized activation row: exact int32 block sums,
/// f32 sum of `(d_w·d_x)·isum` in block order.
fn dot_scalar(ty: GgmlType, row: &[u8], x: Q8Row) -> f32 {
    let mut acc = 0.0f32;
    match ty {
        GgmlType::Q8_0 => {
            for (b, blk) in row.chunks_exact(Q8_0_BYTES).enumerate() {
                let xq = &x.qs[b * QK8_0..(b + 1) * QK8_0];
                let isum: i32 = blk[2..]
                    .iter()
                    .zip(xq)
                    .map(|(&w, &q)| (w as i8) as i32 * q as i32)
                    .sum();
                acc += (scale(blk) * x.d[b]) * isum as f32;
            }
        }
        GgmlType::Q4_0 => {
            for (b, blk) in row.chunks_exact(Q4_0_BYTES).enumerate() {
                let xq = &x.qs[b * QK8_0..(b + 1) * QK8_0];
                let mut isum = 0i32;
                for (j, &byte) in blk[2..].iter().enumerate() {
                    isum += ((byte & 0x0f) as i32 - 8) * xq[j] as i32;
                    isum += ((byte >> 4) as i32 - 8) * xq[j + 16] as i32;
                }
                acc += (scale(blk) * x.d[b]) * isum as f32;
            }
        }
        _ => unreachable!("checked by `supports`"),
    }
    acc
}

/// The fp16 scale at the start of a Q8_0 / Q4_0 block.
#[inline]
fn scale(blk: &[u8]) -> f32 {
    f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]))
}
