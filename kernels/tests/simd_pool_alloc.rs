//! ThreadPool dispatches allocate nothing, on any of the pool's threads: a process-wide
//! counting allocator that counts only threads marked as taking part (the caller and, through
//! a warm-up dispatch, every worker), so the test harness's own threads do not interfere.

use std::sync::atomic::{AtomicUsize, Ordering};

use weft_kernels::pool::ThreadPool;
use weft_testkit::alloc::{track_this_thread, tracked};

#[global_allocator]
static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

#[test]
fn dispatch_allocates_nothing_on_any_thread() {
    for spin in [std::time::Duration::ZERO, weft_kernels::pool::DEFAULT_SPIN] {
        let pool = ThreadPool::with_spin(2, spin);
        let sum = AtomicUsize::new(0);
        let mut out = vec![0u32; 1000];
        // Warm up (threads start, lazy statics settle) and mark every pool thread as counted.
        pool.run(&|_, _| track_this_thread());
        for _ in 0..99 {
            pool.run(&|i, _| {
                sum.fetch_add(i, Ordering::Relaxed);
            });
        }
        let before = tracked();
        for _ in 0..2_000 {
            pool.run(&|i, _| {
                sum.fetch_add(i, Ordering::Relaxed);
            });
            pool.run_chunks(&mut out, 8, &|r, c| {
                c.iter_mut().for_each(|v| *v += r.start as u32)
            });
        }
        let n = tracked() - before;
        assert_eq!(n, 0, "{n} allocations in 4000 dispatches (spin {spin:?})");
        assert_eq!(sum.load(Ordering::Relaxed), 2_099);
    }
}
