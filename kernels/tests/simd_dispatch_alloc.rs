//! The first kernel call chooses the SIMD path; with `WEFT_FORCE_SCALAR` / `WEFT_PATH` unset
//! (the normal case) that choice allocates nothing, so an engine can count allocations from its
//! very first decode step. (With either variable set, reading its value allocates once.) This
//! binary holds a single test so that nothing chooses the path before it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use weft_kernels::cpu::dispatch::selected_path;
use weft_kernels::cpu::norm::rms_norm;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards to the system allocator; only bumps a thread-local counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn first_dispatch_allocates_nothing() {
    let unset = ["WEFT_FORCE_SCALAR", "WEFT_PATH"]
        .iter()
        .all(|v| std::env::var_os(v).is_none());
    let (x, w) = ([1.0f32; 16], [1.0f32; 16]);
    let mut out = [0.0f32; 16];
    let before = COUNT.with(|c| c.get());
    rms_norm(&x, &w, 1e-5, &mut out); // the first dispatching call in this process
    let n = COUNT.with(|c| c.get()) - before;
    eprintln!("path {} chosen with {n} allocations", selected_path());
    if unset {
        assert_eq!(n, 0);
    }
}
