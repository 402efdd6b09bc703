//! `Sampler::sample` must not touch the heap: it runs once per generated token on the
//! allocation-free decode path. A counting global allocator (per thread, so other tests running in
//! parallel do not interfere) proves it.

use weft::sample::{Sampler, SamplerConfig};
use weft_testkit::alloc::this_thread as allocations;

#[global_allocator]
static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

#[test]
fn counter_sees_allocations() {
    // Guards the test below against a counter that never counts.
    let before = allocations();
    let v: Vec<u64> = std::hint::black_box(Vec::with_capacity(16));
    drop(v);
    assert_eq!(allocations(), before + 1);
}

#[test]
fn sample_allocates_nothing() {
    const V: usize = 32_000;
    let logits: Vec<f32> = (0..V).map(|i| ((i * 7919) % 1000) as f32 / 100.0).collect();
    let recent: Vec<u32> = (0..200).map(|i| (i * 37) % V as u32).collect();
    let configs = [
        SamplerConfig::greedy(),
        SamplerConfig::default(),
        SamplerConfig {
            top_k: 0,
            min_p: 0.0,
            top_p: 0.9,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            temperature: 1.0,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            repetition_penalty: 1.3,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            repetition_penalty: 1.3,
            ..SamplerConfig::greedy()
        },
    ];
    let mut s = Sampler::with_seed(V, 11);
    let mut picked = 0u64;

    let before = allocations();
    for cfg in &configs {
        for _ in 0..5 {
            picked += u64::from(s.sample(&logits, cfg, &recent).unwrap());
        }
    }
    // Error paths, snapshot and restore too.
    let bad = SamplerConfig {
        top_p: 2.0,
        ..SamplerConfig::default()
    };
    assert!(s.sample(&logits, &bad, &recent).is_err());
    assert!(s.sample(&logits[1..], &configs[1], &recent).is_err());
    let state = s.rng_state();
    s.set_rng_state(state).unwrap();
    s.reseed(3);
    let after = allocations();

    assert!(picked > 0);
    assert_eq!(
        after - before,
        0,
        "sample() allocated {} times",
        after - before
    );
}
