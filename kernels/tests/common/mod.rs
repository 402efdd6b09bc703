//! Shared helpers of the SIMD integration tests: seeded inputs, tolerances, allocation counting.
#![allow(dead_code)]

use weft_kernels::GgmlType;
use weft_kernels::cpu::dispatch::Path;
use weft_kernels::quant::{f32_to_f16, quantize};

/// splitmix64, as in the crate's unit tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    pub fn normal(&mut self) -> f32 {
        let u1 = (self.uniform() as f64).max(1e-12);
        let u2 = self.uniform() as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    pub fn normal_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal()).collect()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

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

/// Counts heap allocations of the current thread (install with `#[global_allocator]`).
pub mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    pub struct Counting;

    // SAFETY: forwards to the system allocator; only bumps a thread-local counter.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            COUNT.with(|c| c.set(c.get() + 1));
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            COUNT.with(|c| c.set(c.get() + 1));
            unsafe { System.realloc(p, l, n) }
        }
    }

    /// Allocations made by this thread while running `f`.
    pub fn count<R>(f: impl FnOnce() -> R) -> (usize, R) {
        let before = COUNT.with(|c| c.get());
        let r = f();
        (COUNT.with(|c| c.get()) - before, r)
    }
}
