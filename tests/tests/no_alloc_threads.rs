//! Zero allocations after `Session::new` on every thread of the process, the backend's pool
//! workers included. This binary holds a single test so that nothing else allocates while the
//! global counter is on.

use weft::convert::OutType;
use weft::sample::SamplerConfig;
use weft::{Input, SessionConfig};
use weft_testkit::alloc::count_all_threads;
use weft_tests::{Rng, case_name, hf_cases, load};

#[global_allocator]
static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

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
            let (count, ()) = count_all_threads(|| {
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
            });
            assert_eq!(
                count, 0,
                "{case} (int8 {int8_activations}): {count} allocations on some thread"
            );
        }
    }
}
