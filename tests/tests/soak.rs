//! Memory does not grow with stream length (DESIGN.md §2.2): 1,000,000 tokens streamed through a
//! hybrid model with wrapping KV rings leave the resident set where it was after 1,000.
//! Ignored by default (about a minute in release):
//! `cargo test --release -p weft-tests --test soak -- --ignored --nocapture`

use std::time::Instant;

use weft::convert::OutType;
use weft::{Input, SessionConfig};
use weft_tests::{Rng, load, rss_kib};

#[test]
#[ignore = "long: streams a million tokens"]
fn a_million_tokens_in_constant_memory() {
    let model = load("zamba2_a", OutType::F32);
    let config = SessionConfig {
        kv_window: 512,
        kv_sinks: 4,
        ..SessionConfig::default()
    };
    let mut session = model.session(config).unwrap();
    let mut rng = Rng(1);
    let vocab = model.config().n_vocab as u32;
    let start = Instant::now();
    let mut rss_1k = 0;
    for i in 1..=1_000_000usize {
        let logits = session.step(Input::Token(rng.below(vocab))).unwrap();
        assert!(logits[0].is_finite(), "finite logits at token {i}");
        if i == 1_000 {
            rss_1k = rss_kib().expect("Linux /proc");
        }
    }
    let rss_1m = rss_kib().unwrap();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "zamba2_a, kv_window 512 + 4 sinks: RSS after 1k tokens {rss_1k} KiB, after 1M {rss_1m} KiB ({:.1} µs/token)",
        secs * 1e6 / 1e6
    );
    assert_eq!(session.position(), 1_000_000);
    assert!(
        rss_1m <= rss_1k + 256,
        "RSS grew from {rss_1k} KiB to {rss_1m} KiB"
    );
}
