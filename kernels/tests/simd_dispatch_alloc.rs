//! The first kernel call chooses the SIMD path; with `WEFT_FORCE_SCALAR` / `WEFT_PATH` unset
//! (the normal case) that choice allocates nothing, so an engine can count allocations from its
//! very first decode step. (With either variable set, reading its value allocates once.) This
//! binary holds a single test so that nothing chooses the path before it.

use weft_kernels::cpu::dispatch::selected_path;
use weft_kernels::cpu::norm::rms_norm;
use weft_testkit::alloc::count;

#[global_allocator]
static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

#[test]
fn first_dispatch_allocates_nothing() {
    let unset = ["WEFT_FORCE_SCALAR", "WEFT_PATH"]
        .iter()
        .all(|v| std::env::var_os(v).is_none());
    let (x, w) = ([1.0f32; 16], [1.0f32; 16]);
    let mut out = [0.0f32; 16];
    // The first dispatching call in this process.
    let (n, ()) = count(|| rms_norm(&x, &w, 1e-5, &mut out));
    eprintln!("path {} chosen with {n} allocations", selected_path());
    if unset {
        assert_eq!(n, 0);
    }
}
