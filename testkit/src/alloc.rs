//! A counting global allocator. A test binary installs it with
//! `#[global_allocator] static A: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;`
//! and then asks one of three questions:
//! - [`count`]: allocations this thread makes while running a closure (tests run in parallel
//!   threads, so per-thread counts do not see each other);
//! - [`count_all_threads`]: allocations any thread makes meanwhile (a binary with one test, so
//!   that the harness is idle), e.g. a session's worker threads;
//! - [`track_this_thread`] + [`tracked`]: allocations of marked threads only, e.g. the workers
//!   of a pool the test can run code on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

thread_local! {
    static THIS_THREAD: Cell<usize> = const { Cell::new(0) };
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

static ALL_THREADS_ON: AtomicBool = AtomicBool::new(false);
static ALL_THREADS: AtomicUsize = AtomicUsize::new(0);
static TRACKED_TOTAL: AtomicUsize = AtomicUsize::new(0);

pub struct CountingAlloc;

fn note() {
    // `try_with`: thread-local storage may be gone while a thread exits.
    let _ = THIS_THREAD.try_with(|c| c.set(c.get() + 1));
    if ALL_THREADS_ON.load(Ordering::Relaxed) {
        ALL_THREADS.fetch_add(1, Ordering::Relaxed);
    }
    if TRACKED.try_with(Cell::get).unwrap_or(false) {
        TRACKED_TOTAL.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator; only bumps counters.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations (and reallocations) this thread has made so far.
pub fn this_thread() -> usize {
    THIS_THREAD.with(Cell::get)
}

/// Allocations (and reallocations) this thread made while running `f`.
pub fn count<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = THIS_THREAD.with(Cell::get);
    let r = f();
    (THIS_THREAD.with(Cell::get) - before, r)
}

/// Allocations every thread of the process made while running `f`.
pub fn count_all_threads<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALL_THREADS.store(0, Ordering::SeqCst);
    ALL_THREADS_ON.store(true, Ordering::SeqCst);
    let r = f();
    ALL_THREADS_ON.store(false, Ordering::SeqCst);
    (ALL_THREADS.load(Ordering::SeqCst), r)
}

/// Marks the calling thread: its allocations from now on add to [`tracked`].
pub fn track_this_thread() {
    TRACKED.with(|t| t.set(true));
}

/// Allocations made so far by threads marked with [`track_this_thread`].
pub fn tracked() -> usize {
    TRACKED_TOTAL.load(Ordering::SeqCst)
}
