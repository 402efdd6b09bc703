//! SIMD matvec (f32 activation) against the scalar reference, on every path this CPU has.
//!
//! Bound: both results are f32 sums of the same products in different orders (and, for the
//! block types, (q·x)·d instead of (q·d)·x), so |simd − scalar| ≤ 2·(cols/8 + 16)·ε·Σ|w·x|.
//! On each path, matvec / matvec_rows (any split) / matmul / matmul_rows are bit-identical.

mod common;

use common::{Rng, alloc_count, assert_within, bits, random_weights, simd_paths};
use weft_kernels::GgmlType;
use weft_kernels::cpu::dispatch::{Path, selected_path};
use weft_kernels::cpu::matvec::*;
use weft_kernels::quant::dequantize;

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

const TYPES: [GgmlType; 7] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

fn cols_for(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_K | GgmlType::Q6_K => &[256, 768],
        GgmlType::Q8_0 | GgmlType::Q4_0 => &[32, 64, 96, 288, 1024, 2080],
        _ => &[1, 7, 8, 15, 16, 17, 31, 32, 33, 45, 300, 1000, 2051],
    }
}

/// Per-row tolerance 2·(cols/8 + 16)·ε·Σ|w·x| from the dequantized weights.
fn tolerance(ty: GgmlType, data: &[u8], rows: usize, cols: usize, x: &[f32]) -> Vec<f64> {
    let mut wd = vec![0.0; rows * cols];
    dequantize(ty, data, &mut wd).unwrap();
    let k = 2.0 * (cols as f64 / 8.0 + 16.0) * f32::EPSILON as f64;
    wd.chunks_exact(cols)
        .map(|row| {
            let mag: f64 = row
                .iter()
                .zip(x)
                .map(|(a, b)| (*a as f64 * *b as f64).abs())
                .sum();
            k * mag + 1e-30
        })
        .collect()
}

#[test]
fn every_path_matches_scalar_reference() {
    let mut r = Rng::new(1000);
    for path in simd_paths() {
        for ty in TYPES {
            for &cols in cols_for(ty) {
                for rows in [1, 3, 4, 5, 9, 17] {
                    let data = random_weights(ty, rows, cols, &mut r);
                    let w = WeightView::new(ty, &data, rows, cols).unwrap();
                    let x = r.normal_vec(cols);
                    let mut want = vec![f32::NAN; rows];
                    matvec_scalar(&w, &x, &mut want);
                    let mut got = vec![f32::NAN; rows];
                    matvec_rows_on(path, &w, &x, &mut got, 0..rows);
                    let tol = tolerance(ty, &data, rows, cols, &x);
                    assert_within(&got, &want, &tol, &format!("{path} {ty} {rows}x{cols}"));
                }
            }
        }
    }
}

#[test]
fn matvec_rows_and_matmul_are_bit_identical_on_each_path() {
    let mut r = Rng::new(1001);
    for path in Path::supported() {
        for ty in TYPES {
            let cols = cols_for(ty)[cols_for(ty).len() / 2];
            let (rows, t) = (11, 3);
            let data = random_weights(ty, rows, cols, &mut r);
            let w = WeightView::new(ty, &data, rows, cols).unwrap();
            let x = r.normal_vec(t * cols);
            let mut want = vec![0.0; t * rows];
            for ti in 0..t {
                let xt = &x[ti * cols..(ti + 1) * cols];
                matvec_rows_on(path, &w, xt, &mut want[ti * rows..(ti + 1) * rows], 0..rows);
            }
            let mut got = vec![f32::NAN; t * rows];
            matmul_rows_on(path, &w, &x, t, &mut got, 0..rows);
            assert_eq!(bits(&got), bits(&want), "{path} {ty} matmul");

            // Uneven splits, as threads would make them.
            for split in [1, 2, 5, 6, 10] {
                let mut part = vec![f32::NAN; t * rows];
                matmul_rows_on(path, &w, &x, t, &mut part, 0..split);
                matmul_rows_on(path, &w, &x, t, &mut part, split..rows);
                assert_eq!(bits(&part), bits(&want), "{path} {ty} matmul_rows {split}");
                let mut y = vec![f32::NAN; rows];
                let (lo, hi) = y.split_at_mut(split);
                matvec_rows_on(path, &w, &x[..cols], lo, 0..split);
                matvec_rows_on(path, &w, &x[..cols], hi, split..rows);
                assert_eq!(
                    bits(&y),
                    bits(&want[..rows]),
                    "{path} {ty} matvec_rows {split}"
                );
            }
        }
    }
}

#[test]
fn public_entry_points_use_the_selected_path() {
    let mut r = Rng::new(1002);
    let (rows, cols) = (6, 64);
    for ty in TYPES {
        let cols = if cols_for(ty)[0] >= 256 { 256 } else { cols };
        let data = random_weights(ty, rows, cols, &mut r);
        let w = WeightView::new(ty, &data, rows, cols).unwrap();
        let x = r.normal_vec(cols);
        let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
        matvec(&w, &x, &mut a);
        matvec_rows_on(selected_path(), &w, &x, &mut b, 0..rows);
        assert_eq!(bits(&a), bits(&b), "{ty}");
    }
}

#[test]
fn no_path_allocates() {
    let mut r = Rng::new(1003);
    let _ = selected_path(); // the first call reads the environment
    for path in Path::supported() {
        for ty in TYPES {
            let cols = 256;
            let data = random_weights(ty, 8, cols, &mut r);
            let w = WeightView::new(ty, &data, 8, cols).unwrap();
            let x = r.normal_vec(2 * cols);
            let mut y = vec![0.0; 16];
            let (n, ()) = alloc_count::count(|| {
                matvec_rows_on(path, &w, &x[..cols], &mut y[..8], 0..8);
                matmul_rows_on(path, &w, &x, 2, &mut y, 0..8);
                matvec(&w, &x[..cols], &mut y[..8]);
            });
            assert_eq!(n, 0, "{path} {ty}: {n} allocations");
        }
    }
}

#[test]
#[should_panic(expected = "row range")]
fn bad_row_range_panics_on_simd_paths_too() {
    let data = vec![0u8; 4 * 8 * 4];
    let w = WeightView::new(GgmlType::F32, &data, 4, 8).unwrap();
    let mut y = [0.0; 2];
    matvec_rows(&w, &[0.0; 8], &mut y, 3..5);
}

/// A quantized matrix computes exactly what its blocks encode: on every path, the result is
/// bit-identical to the same matrix dequantized to F32 (q·d is exact in f32, and the block
/// kernels accumulate in the F32 kernel's lanes and order). The engine's "quantized model ==
/// dequantized twin" test relies on this.
#[test]
fn quantized_equals_dequantized_f32_twin_on_every_path() {
    let mut r = Rng::new(1004);
    for path in Path::supported() {
        for ty in [
            GgmlType::F16,
            GgmlType::BF16,
            GgmlType::Q8_0,
            GgmlType::Q4_0,
        ] {
            for cols in [32, 64, 96, 288, 2048] {
                let rows = 7;
                let data = random_weights(ty, rows, cols, &mut r);
                let mut wd = vec![0.0f32; rows * cols];
                dequantize(ty, &data, &mut wd).unwrap();
                let twin: Vec<u8> = wd.iter().flat_map(|v| v.to_le_bytes()).collect();
                let w = WeightView::new(ty, &data, rows, cols).unwrap();
                let wt = WeightView::new(GgmlType::F32, &twin, rows, cols).unwrap();
                let x = r.normal_vec(cols);
                let (mut a, mut b) = (vec![0.0; rows], vec![0.0; rows]);
                matvec_rows_on(path, &w, &x, &mut a, 0..rows);
                matvec_rows_on(path, &wt, &x, &mut b, 0..rows);
                assert_eq!(bits(&a), bits(&b), "{path} {ty} cols {cols}");
            }
        }
    }
}
