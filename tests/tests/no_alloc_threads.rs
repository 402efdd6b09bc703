//! Zero allocations after `Session::new` on every thread of the process, the backend's pool
//! workers included. This binary holds a single test so that nothing else allocates while the
//! global counter is on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use weft::convert::OutType;
use weft::sample::SamplerConfig;
use weft::{Input, SessionConfig};
use weft_tests::{Rng, case_name, hf_cases, load};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn note() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
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

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_thread_allocates_after_session_creation() {
    for dir in hf_cases() {
        let case = case_name(&dir);
        let model = load(&case, OutType::Q8_0);
        for int8_activations in [false, true] {
            let config = SessionConfig {
                kv_window: 32,
                prefill_chunk: 8,
                threads: 3,
                int8_activations,
                ..SessionConfig::default()
            };
            let mut session = model.session(config).unwrap();
            let prompt = Rng(9).tokens(40, model.config().n_vocab);
            let mut blob = vec![0u8; session.state_size()];
            // Let the workers start and settle before counting.
            session.prefill(&prompt[..3]).unwrap();
            ALLOCATIONS.store(0, Ordering::SeqCst);
            COUNTING.store(true, Ordering::SeqCst);
            session.prefill(&prompt).unwrap();
            let mut token = session.sample(&SamplerConfig::default()).unwrap();
            for i in 0..200 {
                session.step(Input::Token(token)).unwrap();
                token = session.sample(&SamplerConfig::default()).unwrap();
                if i == 100 {
                    session.save_state(&mut blob).unwrap();
                    session.load_state(&blob).unwrap();
                }
            }
            session.reset();
            COUNTING.store(false, Ordering::SeqCst);
            let count = ALLOCATIONS.load(Ordering::SeqCst);
            assert_eq!(
                count, 0,
                "{case} (int8 {int8_activations}): {count} allocations on some thread"
            );
        }
    }
}
