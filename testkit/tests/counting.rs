//! The counting allocator sees what it must: this thread's allocations, every thread's while
//! counting all, and only marked threads' in the tracked tally. One test: nothing else runs.

use weft_testkit::alloc::{count, count_all_threads, track_this_thread, tracked};

#[global_allocator]
static A: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

#[test]
fn counts_per_thread_all_threads_and_tracked_threads() {
    let (n, v) = count(|| std::hint::black_box(vec![1u8; 100]));
    assert_eq!((n, v.len()), (1, 100));
    let (n, ()) = count(|| {});
    assert_eq!(n, 0);

    // Another thread's allocation: invisible to `count`, seen by `count_all_threads`.
    let (here, ()) = count(|| {
        std::thread::scope(|s| {
            s.spawn(|| drop(std::hint::black_box(vec![0u8; 64])));
        })
    });
    let (all, ()) = count_all_threads(|| {
        std::thread::scope(|s| {
            s.spawn(|| drop(std::hint::black_box(vec![0u8; 64])));
        })
    });
    assert!(all > here, "all threads {all}, this thread {here}");

    let before = tracked();
    std::thread::scope(|s| {
        s.spawn(|| drop(std::hint::black_box(vec![0u8; 8])));
    });
    assert_eq!(tracked(), before, "unmarked threads are not tracked");
    std::thread::scope(|s| {
        s.spawn(|| {
            track_this_thread();
            drop(std::hint::black_box(vec![0u8; 8]));
        });
    });
    assert_eq!(tracked(), before + 1);
}
