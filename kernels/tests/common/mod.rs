//! Shared helpers of the SIMD integration tests: seeded inputs, tolerances, allocation counting.
#![allow(dead_code, unused_imports)]

use weft_kernels::GgmlType;
use weft_kernels::cpu::dispatch::Path;
use weft_kernels::quant::{f32_to_f16, quantize};

pub use weft_testkit::Rng;

/// The SIMD paths this CPU supports (the scalar reference excluded).
pub fn simd_paths() -> Vec<Path> {
    let v: Vec<Path> = Path::supported().filter(|&p| p != Path::Scalar).collect();
    eprintln!("SIMD paths under test: {v:?}");
    v
}

/// Random encoded weights of `rows × cols`: quantized Gaussians where weft can quantize,
/// else random valid K-quant blocks with a small finite fp16 scale.
pub fn random_weights(ty: GgmlType, rows: usize, cols: usize, r: &mut Rng) -> Vec<u8> {
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

/// Bit patterns, for exact comparisons that treat NaN == NaN.
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Asserts |got − want| ≤ tol[i] elementwise.
#[track_caller]
pub fn assert_within(got: &[f32], want: &[f32], tol: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &t)) in got.iter().zip(want).zip(tol).enumerate() {
        let err = (g as f64 - w as f64).abs();
        assert!(
            err <= t,
            "{what}[{i}]: got {g}, want {w}, |err| {err:e} > {t:e}"
        );
    }
}

/// Largest |a−b| / (atol + rtol·|b|); ≤ 1 means within tolerance.
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan()),
            "{what}[{i}]: got {g}, want {w} (|err| {err:e} > {atol:e} + {rtol:e}·|want|)"
        );
    }
}

/// Per-thread allocation counts (install `alloc_count::Counting` with `#[global_allocator]`).
pub mod alloc_count {
    pub use weft_testkit::CountingAlloc as Counting;
    pub use weft_testkit::alloc::count;
}
