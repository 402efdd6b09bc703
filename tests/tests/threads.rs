//! The CPU backend's threads split work without changing any arithmetic: logits are
//! bit-identical for every thread count, in decode and in prefill, with f32 or int8
//! activations, and with int8 activations decode still equals prefill.

use weft::convert::OutType;
use weft::{Input, Session, SessionConfig};
use weft_tests::{Rng, case_name, hf_cases, load, max_rel_rows};

fn config(threads: usize, int8_activations: bool, chunk: usize) -> SessionConfig {
    SessionConfig {
        kv_window: 6,
        kv_sinks: 2,
        prefill_chunk: chunk,
        logits_all: true,
        threads,
        int8_activations,
        ..SessionConfig::default()
    }
}

fn decode(session: &mut Session, tokens: &[u32]) -> Vec<f32> {
    tokens
        .iter()
        .flat_map(|&t| session.step(Input::Token(t)).unwrap().to_vec())
        .collect()
}

fn prefill(session: &mut Session, tokens: &[u32], v: usize) -> Vec<f32> {
    let mut all = vec![0.0; tokens.len() * v];
    session.prefill_all(tokens, &mut all).unwrap();
    all
}

#[test]
fn logits_do_not_depend_on_the_thread_count() {
    for dir in hf_cases() {
        let case = case_name(&dir);
        for ty in [OutType::F32, OutType::Q8_0, OutType::Q4_0] {
            let model = load(&case, ty);
            let v = model.config().n_vocab;
            let tokens = Rng(3).tokens(24, v);
            for int8 in [false, true] {
                let one = model.session(config(1, int8, 7)).unwrap();
                let (mut d1, mut p1) = (one, model.session(config(1, int8, 7)).unwrap());
                let dec1 = decode(&mut d1, &tokens);
                let pre1 = prefill(&mut p1, &tokens, v);
                for threads in [2, 3] {
                    let mut d = model.session(config(threads, int8, 7)).unwrap();
                    let mut p = model.session(config(threads, int8, 7)).unwrap();
                    assert_eq!(d.threads(), threads);
                    assert!(
                        decode(&mut d, &tokens) == dec1,
                        "{case} {ty} int8 {int8}: decode differs with {threads} threads"
                    );
                    assert!(
                        prefill(&mut p, &tokens, v) == pre1,
                        "{case} {ty} int8 {int8}: prefill differs with {threads} threads"
                    );
                }
                let rel = max_rel_rows(&pre1, &dec1, v);
                assert!(
                    rel <= 1e-4,
                    "{case} {ty} int8 {int8}: decode vs prefill {rel:e}"
                );
            }
        }
    }
}

#[test]
fn threaded_save_load_continue_is_bit_identical() {
    for dir in hf_cases() {
        let case = case_name(&dir);
        let model = load(&case, OutType::Q8_0);
        let v = model.config().n_vocab;
        let tokens = Rng(5).tokens(20, v);
        let mut a = model.session(config(2, true, 4)).unwrap();
        a.prefill(&tokens[..10]).unwrap();
        let mut blob = vec![0u8; a.state_size()];
        a.save_state(&mut blob).unwrap();
        let rest_a = decode(&mut a, &tokens[10..]);
        let mut b = model.session(config(3, true, 4)).unwrap();
        b.load_state(&blob).unwrap();
        let rest_b = decode(&mut b, &tokens[10..]);
        assert!(rest_a == rest_b, "{case}: continuation differs after load");
        let _ = Input::Token(0);
    }
}
