//! A persistent fork-join thread pool for decode: one dispatch per kernel call, no heap
//! allocation per dispatch, microsecond-scale dispatch + join.
//!
//! `pool.run(&|thread_idx, n_threads| ..)` runs the closure on every worker and on the calling
//! thread (index 0) and returns when all are done, so the closure may borrow the caller's stack.
//! Workers spin on a generation counter for a short while after each job (the next kernel of a
//! decode step usually follows within microseconds), then sleep on a condvar; the caller spins,
//! then sleeps, the same way while it waits for the workers.
//!
//! Dispatch + join costs ~1 µs (p50, 2 threads, x86-64 VM; `dispatch_latency_percentiles` in
//! tests/simd_pool.rs). Spinning assumes each pool thread has a core: with more pool threads
//! than free cores, a spinning thread can hold the core its peer needs until preempted; use a
//! short spin there.
//!
//! A panic in the closure on any thread is caught, the dispatch still waits for every thread,
//! and the first payload is re-raised on the caller. A `run` issued while another is in
//! progress (from inside a job, or concurrently from another thread) does not deadlock: it runs
//! the closure inline as `f(0, 1)`, so closures must split work by the `n_threads` they get.

use std::any::Any;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The closure type a job runs, as the workers see it.
type Job<'a> = &'a (dyn Fn(usize, usize) + Sync + 'a);

/// How long a waiting thread spins before it sleeps, by default.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

/// See the module docs.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    busy: AtomicBool,
}

struct Shared {
    /// Bumped once per dispatch (and at shutdown); workers run a job when it changes.
    generation: AtomicUsize,
    /// Thin pointer to the current job (a `Job` on the caller's stack).
    job: AtomicPtr<()>,
    /// Workers that have not finished the current job.
    pending: AtomicUsize,
    n_threads: usize,
    spin: Duration,
    shutdown: AtomicBool,
    /// Workers asleep on `wake`.
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    /// The caller asleep on `done`.
    caller_asleep: AtomicBool,
    done_lock: Mutex<()>,
    done: Condvar,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl ThreadPool {
    /// A pool of `threads` threads in all, the caller included (`threads - 1` workers are
    /// spawned now). `threads = 0` means [`physical_cores`].
    pub fn new(threads: usize) -> Self {
        Self::with_spin(threads, DEFAULT_SPIN)
    }

    /// [`ThreadPool::new`] with a given spin time before a waiting thread sleeps (0: sleep at
    /// once; longer: lower latency, more CPU burnt between dispatches).
    pub fn with_spin(threads: usize, spin: Duration) -> Self {
        let n = if threads == 0 {
            physical_cores()
        } else {
            threads
        };
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            pending: AtomicUsize::new(0),
            n_threads: n,
            spin,
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
            caller_asleep: AtomicBool::new(false),
            done_lock: Mutex::new(()),
            done: Condvar::new(),
            panic: Mutex::new(None),
        });
        let workers = (1..n)
            .map(|idx| {
                let sh = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("weft-worker-{idx}"))
                    .spawn(move || worker(&sh, idx))
                    .expect("spawn weft worker thread")
            })
            .collect();
        ThreadPool {
            shared,
            workers,
            busy: AtomicBool::new(false),
        }
    }

    /// Threads a dispatch runs on, the caller included.
    pub fn n_threads(&self) -> usize {
        self.shared.n_threads
    }

    /// Runs `f(thread_idx, n_threads)` for every `thread_idx < n_threads` (index 0 on the
    /// calling thread) and returns when all calls have returned. Allocates nothing.
    pub fn run<F: Fn(usize, usize) + Sync>(&self, f: &F) {
        let sh = &*self.shared;
        if sh.n_threads == 1 || self.busy.swap(true, Acquire) {
            f(0, 1);
            return;
        }
        let job: Job = f;
        // Publish the job: workers read `job` after they see the new generation (SeqCst on
        // both sides also orders it against `sleepers`, so a worker going to sleep either
        // sees the new generation or is seen as a sleeper and woken).
        sh.job.store((&raw const job).cast_mut().cast(), Relaxed);
        sh.pending.store(sh.n_threads - 1, Relaxed);
        sh.generation.fetch_add(1, SeqCst);
        if sh.sleepers.load(SeqCst) > 0 {
            let _g = sh.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| f(0, sh.n_threads)));
        // Whatever happened above, wait for every worker: they borrow `job` (and through it
        // the caller's stack) until they decrement `pending`.
        sh.wait_done();
        let theirs = sh.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.busy.store(false, Release);
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if let Some(p) = theirs {
            resume_unwind(p);
        }
    }

    /// Splits `out` into balanced chunks of whole `align`-element units (see [`split_range`])
    /// and runs `f(range, chunk)` on every thread, where `chunk = &mut out[range]`.
    pub fn run_chunks<T: Send, F: Fn(Range<usize>, &mut [T]) + Sync>(
        &self,
        out: &mut [T],
        align: usize,
        f: &F,
    ) {
        let len = out.len();
        let base = SendPtr(out.as_mut_ptr());
        self.run(&|idx, n| {
            let r = split_range(len, align, idx, n);
            let base = &base;
            // SAFETY: the ranges of different `idx` are disjoint and within `out` (split_range),
            // `out` is mutably borrowed for the whole `run`, which returns only after every
            // thread is done with its chunk.
            let chunk = unsafe { std::slice::from_raw_parts_mut(base.0.add(r.start), r.len()) };
            f(r, chunk);
        });
    }
}

/// A raw pointer that may cross threads (its users uphold the aliasing rules).
struct SendPtr<T>(*mut T);
// SAFETY: only used by `run_chunks`, which hands each thread a disjoint sub-slice of a `T: Send`.
unsafe impl<T: Send> Sync for SendPtr<T> {}

impl Shared {
    /// Spins, then sleeps, until `pending` reaches 0.
    fn wait_done(&self) {
        if spin_until(self.spin, || self.pending.load(Acquire) == 0) {
            return;
        }
        let mut g = self.done_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.caller_asleep.store(true, SeqCst);
        while self.pending.load(SeqCst) != 0 {
            g = self.done.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        self.caller_asleep.store(false, Relaxed);
    }

    /// Spins, then sleeps, until the generation differs from `seen`; returns the new one.
    fn wait_job(&self, seen: usize) -> usize {
        let mut g = seen;
        if spin_until(self.spin, || {
            g = self.generation.load(Acquire);
            g != seen
        }) {
            return g;
        }
        let mut guard = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, SeqCst);
        loop {
            g = self.generation.load(SeqCst);
            if g != seen {
                break;
            }
            guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
        self.sleepers.fetch_sub(1, SeqCst);
        g
    }
}

/// Busy-waits up to `budget` for `done()`; checks the clock every 64 polls. No `yield_now`:
/// with one pool thread per free core, yielding to other processes turned a ~1 µs dispatch
/// into ~44 µs at the median on a loaded machine (measured); a pool with more threads than
/// free cores should use a short or zero spin instead ([`ThreadPool::with_spin`]).
#[inline]
fn spin_until(budget: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= budget {
            return done();
        }
    }
}

fn worker(sh: &Shared, idx: usize) {
    let mut seen = 0;
    loop {
        seen = sh.wait_job(seen);
        if sh.shutdown.load(Acquire) {
            return;
        }
        let p = sh.job.load(Relaxed).cast_const().cast::<Job>();
        // SAFETY: `p` points to the `Job` local of the `run` call that bumped the generation
        // (published before the SeqCst bump we observed). That `run` does not return — so the
        // closure and everything it borrows stay alive — until `pending` reaches 0, which needs
        // this worker's decrement below, after its last use of `f`.
        let f: Job = unsafe { *p };
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| f(idx, sh.n_threads))) {
            let mut slot = sh.panic.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(e);
        }
        if sh.pending.fetch_sub(1, SeqCst) == 1 && sh.caller_asleep.load(SeqCst) {
            let _g = sh.done_lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.done.notify_one();
        }
    }
}

impl Drop for ThreadPool {
    /// Stops and joins the workers.
    fn drop(&mut self) {
        let sh = &*self.shared;
        sh.shutdown.store(true, Release);
        sh.generation.fetch_add(1, SeqCst);
        {
            let _g = sh.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

/// The `idx`-th of `n` balanced parts of `0..total`, made of whole `align`-sized units (e.g. 4
/// rows, the matvec block): part sizes differ by at most one unit, every boundary except
/// `total` is a multiple of `align`, and the parts cover `0..total` in order.
pub fn split_range(total: usize, align: usize, idx: usize, n: usize) -> Range<usize> {
    assert!(align > 0 && n > 0 && idx < n, "split_range: bad arguments");
    let units = total.div_ceil(align);
    let (per, extra) = (units / n, units % n);
    let at = |i: usize| ((i * per + i.min(extra)) * align).min(total);
    at(idx)..at(idx + 1)
}

/// Physical cores available to this process: `available_parallelism` (logical CPUs this
/// process may use, honouring affinity masks and cgroup quotas) divided by the SMT width read
/// from Linux sysfs (1 where unknown). Decode is memory-bound: an SMT sibling adds no
/// bandwidth, only contention. On big.LITTLE phones this counts little cores too; pick the
/// thread count explicitly there.
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    (logical / smt_width()).max(1)
}

/// Hardware threads per core of CPU 0 (Linux `thread_siblings_list`, e.g. "0-1" or "0,64").
fn smt_width() -> usize {
    let path = "/sys/devices/system/cpu/cpu0/topology/thread_siblings_list";
    let Ok(s) = std::fs::read_to_string(path) else {
        return 1;
    };
    let count = s
        .trim()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum::<usize>();
    count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_range_is_balanced_aligned_and_covering() {
        for total in [0, 1, 3, 4, 5, 17, 100, 1536, 50280] {
            for align in [1, 4, 8] {
                for n in 1..6 {
                    let parts: Vec<_> = (0..n).map(|i| split_range(total, align, i, n)).collect();
                    assert_eq!(parts[0].start, 0);
                    assert_eq!(parts[n - 1].end, total);
                    for w in parts.windows(2) {
                        assert_eq!(w[0].end, w[1].start);
                    }
                    for p in &parts {
                        assert!(p.start % align == 0 || p.start == total);
                    }
                    let sizes: Vec<_> = parts.iter().map(|p| p.len().div_ceil(align)).collect();
                    let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                    assert!(hi - lo <= 1, "{total} {align} {n}: {sizes:?}");
                }
            }
        }
    }

    #[test]
    fn physical_cores_is_positive() {
        assert!(physical_cores() >= 1);
        assert!(physical_cores() <= std::thread::available_parallelism().unwrap().get());
    }
}
