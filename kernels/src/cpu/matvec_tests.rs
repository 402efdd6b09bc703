//! matvec tests: every type against a naive f64 product over `quant::dequantize`d weights;
//! bit-identity of matvec / matvec_rows / matmul; typed view errors; no allocation.

use super::*;
use crate::quant::{dequantize, f32_to_f16, quantize};
use crate::testutil::{Rng, alloc_count};

const TYPES: [GgmlType; 7] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

/// Random encoded weights of `rows × cols`: quantized Gaussians where weft can quantize,
/// else random valid K-quant blocks with a small finite fp16 scale.
fn random_weights(ty: GgmlType, rows: usize, cols: usize, r: &mut Rng) -> Vec<u8> {
    match ty {
        GgmlType::Q4_K | GgmlType::Q6_K => {
            let bb = ty.block_bytes();
            let mut data = r.bytes(rows * ty.row_bytes(cols).unwrap());
            for b in data.chunks_exact_mut(bb) {
                let d = f32_to_f16(r.range(-0.02, 0.02)).to_le_bytes();
                if ty == GgmlType::Q4_K {
                    let dmin = f32_to_f16(r.range(0.0, 0.01)).to_le_bytes();
                    b[..2].copy_from_slice(&d);
                    b[2..4].copy_from_slice(&dmin);
                } else {
                    b[bb - 2..].copy_from_slice(&d);
                }
            }
            data
        }
        _ => quantize(ty, &r.normal_vec(rows * cols)).unwrap(),
    }
}

fn dense(ty: GgmlType, data: &[u8], rows: usize, cols: usize) -> Vec<f32> {
    let mut w = vec![0.0; rows * cols];
    dequantize(ty, data, &mut w).unwrap();
    w
}

/// Shapes: K-quants need cols % 256 == 0, block types % 32; float types any cols.
fn cols_for(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_K | GgmlType::Q6_K => &[256, 512],
        GgmlType::Q8_0 | GgmlType::Q4_0 => &[32, 96, 288],
        _ => &[1, 7, 45, 300],
    }
}

#[test]
fn matvec_matches_naive_f64_for_every_type() {
    let mut r = Rng::new(100);
    for ty in TYPES {
        for &cols in cols_for(ty) {
            let rows = 5;
            let data = random_weights(ty, rows, cols, &mut r);
            let w = WeightView::new(ty, &data, rows, cols).unwrap();
            let wd = dense(ty, &data, rows, cols);
            let x = r.normal_vec(cols);
            let mut y = vec![f32::NAN; rows];
            matvec(&w, &x, &mut y);
            for (i, &yi) in y.iter().enumerate() {
                let row = &wd[i * cols..(i + 1) * cols];
                let want: f64 = row.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
                let mag: f64 = row
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| (*a as f64 * *b as f64).abs())
                    .sum();
                // f32 accumulation over ≤ 512 terms: well within 1e-5 of Σ|w·x|.
                let err = (yi as f64 - want).abs();
                assert!(
                    err <= 1e-5 * mag + 1e-30,
                    "{ty} cols {cols} row {i}: {yi} vs {want}"
                );
            }
        }
    }
}

#[test]
fn matvec_rows_and_matmul_are_bit_identical_to_matvec() {
    let mut r = Rng::new(101);
    for ty in TYPES {
        let cols = *cols_for(ty).last().unwrap();
        let (rows, t) = (9, 3);
        let data = random_weights(ty, rows, cols, &mut r);
        let w = WeightView::new(ty, &data, rows, cols).unwrap();
        let x = r.normal_vec(t * cols);
        let mut want = vec![0.0; t * rows];
        for ti in 0..t {
            matvec(
                &w,
                &x[ti * cols..(ti + 1) * cols],
                &mut want[ti * rows..(ti + 1) * rows],
            );
        }
        let mut got = vec![f32::NAN; t * rows];
        matmul(&w, &x, t, &mut got);
        assert_eq!(bits(&got), bits(&want), "{ty} matmul");

        let mut part = vec![f32::NAN; t * rows];
        matmul_rows(&w, &x, t, &mut part, 0..4);
        matmul_rows(&w, &x, t, &mut part, 4..rows);
        assert_eq!(bits(&part), bits(&want), "{ty} matmul_rows");

        let mut y = vec![f32::NAN; rows];
        let (lo, hi) = y.split_at_mut(2);
        matvec_rows(&w, &x[..cols], lo, 0..2);
        matvec_rows(&w, &x[..cols], hi, 2..rows);
        assert_eq!(bits(&y), bits(&want[..rows]), "{ty} matvec_rows");
    }
}

#[test]
fn dequantize_row_into_matches_dequantize() {
    let mut r = Rng::new(102);
    for ty in TYPES {
        let cols = *cols_for(ty).last().unwrap();
        let rows = 4;
        let data = random_weights(ty, rows, cols, &mut r);
        let w = WeightView::new(ty, &data, rows, cols).unwrap();
        let wd = dense(ty, &data, rows, cols);
        let mut out = vec![f32::NAN; cols];
        dequantize_row_into(&w, 2, &mut out);
        assert_eq!(bits(&out), bits(&wd[2 * cols..3 * cols]), "{ty}");
    }
}

#[test]
fn hand_computed_q8_0_matvec() {
    // Row 0: q = 1..=32 with d = 0.5; x = 1 → 0.5 · Σ 1..32 = 264. Row 1: q = −1, d = 2 → −64.
    let mut data = vec![0u8; 2 * 34];
    data[..2].copy_from_slice(&f32_to_f16(0.5).to_le_bytes());
    for j in 0..32 {
        data[2 + j] = (j + 1) as u8;
    }
    data[34..36].copy_from_slice(&f32_to_f16(2.0).to_le_bytes());
    data[36..].fill(0xff);
    let w = WeightView::new(GgmlType::Q8_0, &data, 2, 32).unwrap();
    let mut y = [0.0; 2];
    matvec(&w, &[1.0; 32], &mut y);
    assert_eq!(y, [264.0, -64.0]);
}

#[test]
fn weight_view_rejects_inconsistent_sizes() {
    let data = [0u8; 68];
    assert!(WeightView::new(GgmlType::Q8_0, &data, 2, 32).is_ok());
    assert_eq!(
        WeightView::new(GgmlType::Q8_0, &data, 3, 32).unwrap_err(),
        WeightError::SizeMismatch {
            ty: GgmlType::Q8_0,
            rows: 3,
            cols: 32,
            expected: 102,
            actual: 68
        }
    );
    assert!(matches!(
        WeightView::new(GgmlType::Q8_0, &data, 1, 48),
        Err(WeightError::ColsNotBlockMultiple { block: 32, .. })
    ));
    assert!(matches!(
        WeightView::new(GgmlType::Q5_K, &data, 1, 256),
        Err(WeightError::Unsupported(GgmlType::Q5_K))
    ));
    assert!(matches!(
        WeightView::new(GgmlType::F32, &data, usize::MAX / 2, 4),
        Err(WeightError::Overflow { .. })
    ));
}

#[test]
#[should_panic(expected = "matvec: x length")]
fn matvec_panics_on_wrong_x_length() {
    let data = [0u8; 34];
    let w = WeightView::new(GgmlType::Q8_0, &data, 1, 32).unwrap();
    matvec(&w, &[0.0; 31], &mut [0.0]);
}

#[test]
fn kernels_do_not_allocate() {
    let mut r = Rng::new(103);
    for ty in TYPES {
        let cols = *cols_for(ty).last().unwrap();
        let (rows, t) = (3, 2);
        let data = random_weights(ty, rows, cols, &mut r);
        let w = WeightView::new(ty, &data, rows, cols).unwrap();
        let x = r.normal_vec(t * cols);
        let mut y = vec![0.0; t * rows];
        let mut row = vec![0.0; cols];
        let (n, ()) = alloc_count::count(|| {
            matvec(&w, &x[..cols], &mut y[..rows]);
            matmul(&w, &x, t, &mut y);
            dequantize_row_into(&w, 1, &mut row);
        });
        assert_eq!(n, 0, "{ty}: {n} allocations");
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}
