//! ThreadPool: same results as one thread, many dispatches, panics, nesting, sleeping workers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Rng, bits, random_weights};
use weft_kernels::GgmlType;
use weft_kernels::cpu::matvec::{WeightView, matvec, matvec_rows};
use weft_kernels::pool::{ThreadPool, split_range};

#[test]
fn threaded_matvec_is_bit_identical_to_single_thread() {
    let mut r = Rng::new(3000);
    for threads in [1, 2, 3, 4] {
        let pool = ThreadPool::new(threads);
        assert_eq!(pool.n_threads(), threads);
        for ty in [
            GgmlType::F32,
            GgmlType::Q8_0,
            GgmlType::Q4_0,
            GgmlType::Q6_K,
        ] {
            let (rows, cols) = (37, 512);
            let data = random_weights(ty, rows, cols, &mut r);
            let w = WeightView::new(ty, &data, rows, cols).unwrap();
            let x = r.normal_vec(cols);
            let mut want = vec![0.0; rows];
            matvec(&w, &x, &mut want);
            let mut got = vec![f32::NAN; rows];
            pool.run_chunks(&mut got, 4, &|range, y| matvec_rows(&w, &x, y, range));
            assert_eq!(bits(&got), bits(&want), "{threads} threads {ty}");
        }
    }
}

#[test]
fn every_thread_runs_every_dispatch() {
    for spin in [Duration::ZERO, Duration::from_micros(50)] {
        let pool = ThreadPool::with_spin(2, spin);
        let hits: Vec<AtomicUsize> = (0..2).map(|_| AtomicUsize::new(0)).collect();
        let n = 5_000;
        for i in 0..n {
            pool.run(&|idx, nt| {
                assert_eq!(nt, 2);
                hits[idx].fetch_add(i % 7 + 1, Ordering::Relaxed);
            });
        }
        let want: usize = (0..n).map(|i| i % 7 + 1).sum();
        for h in &hits {
            assert_eq!(h.load(Ordering::Relaxed), want, "spin {spin:?}");
        }
    }
}

#[test]
fn workers_asleep_for_a_while_still_wake() {
    let pool = ThreadPool::with_spin(2, Duration::from_micros(10));
    let count = AtomicUsize::new(0);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(5));
        pool.run(&|_, _| {
            count.fetch_add(1, Ordering::Relaxed);
        });
    }
    assert_eq!(count.load(Ordering::Relaxed), 10);
}

#[test]
fn closure_borrows_the_callers_stack() {
    let pool = ThreadPool::new(2);
    let input: Vec<u64> = (0..1000).collect();
    let mut out = vec![0u64; 1000];
    pool.run_chunks(&mut out, 8, &|range, chunk| {
        for (o, i) in chunk.iter_mut().zip(&input[range]) {
            *o = i * i;
        }
    });
    assert!(out.iter().enumerate().all(|(i, &v)| v == (i * i) as u64));
}

#[test]
fn worker_panic_propagates_to_the_caller_and_the_pool_survives() {
    let pool = ThreadPool::new(3);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.run(&|idx, _| {
            if idx == 2 {
                panic!("worker two failed");
            }
        })
    }));
    let msg = r.expect_err("panic expected");
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"worker two failed"));
    // Caller-side panic too, and the pool keeps working afterwards.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.run(&|idx, _| assert!(idx != 0, "caller failed"))
    }));
    assert!(r.is_err());
    let count = AtomicUsize::new(0);
    pool.run(&|_, _| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    assert_eq!(count.load(Ordering::Relaxed), 3);
}

#[test]
fn nested_run_executes_inline() {
    let pool = ThreadPool::new(2);
    let count = AtomicUsize::new(0);
    pool.run(&|_, _| {
        pool.run(&|idx, n| {
            assert_eq!((idx, n), (0, 1));
            count.fetch_add(1, Ordering::Relaxed);
        });
    });
    assert_eq!(count.load(Ordering::Relaxed), 2);
}

#[test]
fn zero_threads_means_physical_cores_and_drop_joins() {
    let pool = ThreadPool::new(0);
    assert_eq!(pool.n_threads(), weft_kernels::pool::physical_cores());
    drop(pool);
    let r = split_range(10, 4, 1, 2);
    assert_eq!(r, 8..10);
}

/// Dispatch + join latency percentiles (diagnostic; run with
/// `cargo test --release -p weft-kernels --test simd_pool -- --ignored --nocapture`).
/// Percentiles separate the pool's own cost (p50 when every thread has a core) from
/// scheduler preemption on a busy machine (the tail).
#[test]
#[ignore]
fn dispatch_latency_percentiles() {
    for threads in [2, 3] {
        let pool = ThreadPool::new(threads);
        let mut t = Vec::with_capacity(100_000);
        for _ in 0..1000 {
            pool.run(&|_, _| {});
        }
        for _ in 0..100_000 {
            let s = std::time::Instant::now();
            pool.run(&|i, _| {
                std::hint::black_box(i);
            });
            t.push(s.elapsed().as_nanos() as u64);
        }
        t.sort_unstable();
        let p = |q: f64| t[((t.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
        eprintln!(
            "pool {threads} threads: dispatch+join p10 {:.2} µs, p50 {:.2} µs, p90 {:.2} µs, p99 {:.1} µs, mean {:.2} µs",
            p(0.1),
            p(0.5),
            p(0.9),
            p(0.99),
            t.iter().sum::<u64>() as f64 / t.len() as f64 / 1000.0
        );
    }
}
