//! Row-block drivers shared by the SIMD matvec paths, and the kernel handles they call.
//!
//! A SIMD kernel computes four weight rows against one activation vector at once (the four
//! rows share every activation load). Rows left over at the end of a range are padded by
//! repeating the last row, so every output element goes through exactly the same arithmetic
//! whichever block it lands in: matvec, matvec_rows (any split) and matmul are bit-identical.

use std::ops::Range;

use super::matvec::WeightView;
use super::matvec_q8::Q8Row;

/// Four-row dot product against an f32 activation. Built only by the arch modules, from a
/// `#[target_feature]` kernel whose features a CPU token has proven present.
#[derive(Clone, Copy)]
pub(crate) struct Dot4F(unsafe fn([&[u8]; 4], &[f32]) -> [f32; 4]);

/// Four-row dot product against a Q8 activation (see [`Dot4F`]).
#[derive(Clone, Copy)]
pub(crate) struct Dot4Q(unsafe fn([&[u8]; 4], Q8Row) -> [f32; 4]);

impl Dot4F {
    /// # Safety
    /// The CPU must support every target feature `f` is compiled with.
    pub(crate) unsafe fn new(f: unsafe fn([&[u8]; 4], &[f32]) -> [f32; 4]) -> Self {
        Dot4F(f)
    }

    #[inline]
    pub(crate) fn call(self, r: [&[u8]; 4], x: &[f32]) -> [f32; 4] {
        // SAFETY: `new`'s contract: the features were checked when the handle was made.
        unsafe { (self.0)(r, x) }
    }
}

impl Dot4Q {
    /// # Safety
    /// The CPU must support every target feature `f` is compiled with.
    pub(crate) unsafe fn new(f: unsafe fn([&[u8]; 4], Q8Row) -> [f32; 4]) -> Self {
        Dot4Q(f)
    }

    #[inline]
    pub(crate) fn call(self, r: [&[u8]; 4], x: Q8Row) -> [f32; 4] {
        // SAFETY: as for `Dot4F::call`.
        unsafe { (self.0)(r, x) }
    }
}

/// The four row slices of block `r0..r0+4`, clamped to `end` (repeat the last row).
#[inline]
fn block<'a>(w: &WeightView<'a>, r0: usize, end: usize) -> [&'a [u8]; 4] {
    std::array::from_fn(|k| w.row((r0 + k).min(end - 1)))
}

/// `y_rows[i] = dot(row rows.start + i, x)` with `dot4` computing four rows at a time.
#[inline]
pub(crate) fn matvec_rows<X: Copy>(
    w: &WeightView,
    x: X,
    y_rows: &mut [f32],
    rows: Range<usize>,
    dot4: impl Fn([&[u8]; 4], X) -> [f32; 4],
) {
    debug_assert_eq!(y_rows.len(), rows.len());
    for (yb, r0) in y_rows.chunks_mut(4).zip(rows.clone().step_by(4)) {
        let v = dot4(block(w, r0, rows.end), x);
        yb.copy_from_slice(&v[..yb.len()]);
    }
}

/// `y[ti * w.rows + r] = dot(row r, x_of(ti))` for `r` in `rows` and `ti` in `tokens`: each
/// 4-row block stays in cache while it meets every token.
#[inline]
pub(crate) fn matmul_rows<X: Copy>(
    w: &WeightView,
    tokens: Range<usize>,
    x_of: impl Fn(usize) -> X,
    y: &mut [f32],
    rows: Range<usize>,
    dot4: impl Fn([&[u8]; 4], X) -> [f32; 4],
) {
    let m = w.rows;
    for r0 in rows.clone().step_by(4) {
        let rb = block(w, r0, rows.end);
        let n = (rows.end - r0).min(4);
        for ti in tokens.clone() {
            let v = dot4(rb, x_of(ti));
            y[ti * m + r0..ti * m + r0 + n].copy_from_slice(&v[..n]);
        }
    }
}
