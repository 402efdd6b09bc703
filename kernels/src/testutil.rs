//! Test helpers: the shared seeded PRNG and allocation counter (weft-testkit), comparison helpers.

pub use weft_testkit::Rng;

/// Largest |a−b| / (atol + rtol·|b|) over the slices; ≤ 1 means "within tolerance".
#[track_caller]
pub fn assert_close(got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= atol + rtol * w.abs(),
            "index {i}: got {g}, want {w} (|err| {err} > {atol} + {rtol}·|want|)"
        );
    }
}

/// Per-thread allocation counts of the lib's unit tests (tests run on parallel threads).
pub mod alloc_count {
    #[global_allocator]
    static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

    pub use weft_testkit::alloc::count;
}
