//! After `Session::new` returns, decoding, prefilling, sampling and saving/restoring state perform
//! no heap allocation (DESIGN.md §2.1). A counting global allocator counts this thread's
//! allocations only, so the test harness's own threads cannot interfere.

use weft::convert::OutType;
use weft::sample::SamplerConfig;
use weft::{Input, KvType, SessionConfig};
use weft_kernels::cpu::matvec::dequantize_row_into;
use weft_tests::{Rng, case_name, hf_cases, load};

#[global_allocator]
static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

/// Allocations this thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    weft_testkit::alloc::count(f).0 as u64
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 100]))) >= 1);
}

#[test]
fn sessions_never_allocate_after_creation() {
    let sampling = SamplerConfig {
        temperature: 0.8,
        top_k: 30,
        top_p: 0.9,
        min_p: 0.02,
        repetition_penalty: 1.2,
        ..SamplerConfig::default()
    };
    // One thread, then a pool of two (its workers are counted in no_alloc_threads.rs), then
    // int8 activations (their buffers are made in Session::new too), then f16 KV rings.
    let setups = [
        (1, false, KvType::F32),
        (2, false, KvType::F32),
        (2, true, KvType::F32),
        (2, true, KvType::F16),
    ];
    for (dir, (threads, int8_activations, kv_type)) in hf_cases()
        .into_iter()
        .flat_map(|d| setups.map(|s| (d.clone(), s)))
    {
        let case = case_name(&dir);
        let model = load(&case, OutType::Q8_0);
        let config = SessionConfig {
            kv_window: 64,
            kv_sinks: 4,
            prefill_chunk: 16,
            threads,
            int8_activations,
            kv_type,
            ..SessionConfig::default()
        };
        let mut session = model.session(config).unwrap();
        let prompt = Rng(5).tokens(50, model.config().n_vocab);
        let mut blob = vec![0u8; session.state_size()];
        let table = model.matrix(model.plan().token_embd.unwrap().id, 0);
        let mut frame = vec![0.0; model.config().n_embd];
        dequantize_row_into(&table, 1, &mut frame);

        let count = allocations_in(|| {
            session.prefill(&prompt).unwrap();
            let mut token = session.sample(&sampling).unwrap();
            for i in 0..1000 {
                session.step(Input::Token(token)).unwrap();
                token = session.sample(&sampling).unwrap();
                if i == 500 {
                    session.save_state(&mut blob).unwrap();
                    session.step(Input::Frame(&frame)).unwrap();
                    session.load_state(&blob).unwrap();
                }
            }
            session.reset();
            session.prefill(&prompt[..7]).unwrap();
        });
        assert_eq!(
            count, 0,
            "{case} ({threads} threads, int8 {int8_activations}, {kv_type:?} KV): {count} allocations after Session::new"
        );
        assert_eq!(session.position(), 7);
    }
}
