//! `weft synth` models load, carry llama.cpp's tokenizer keys, and stay finite over long streams
//! on every architecture.

use weft::convert::OutType;
use weft::synth::{SHAPES, find};
use weft::{Input, SessionConfig};
use weft_tests::{Rng, model_from_bytes};

#[test]
fn tiny_synth_models_stay_finite_over_2000_steps() {
    for shape in SHAPES.iter().filter(|s| s.name == "tiny") {
        for ty in [OutType::F32, OutType::Q4_0] {
            let model = model_from_bytes(shape.to_bytes(ty, 7).unwrap());
            let g = model.gguf();
            assert_eq!(g.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
            let config = SessionConfig {
                kv_window: 256,
                ..SessionConfig::default()
            };
            let mut s = model.session(config).unwrap();
            let n_vocab = model.config().n_vocab;
            let tokens = Rng(11).tokens(2000, n_vocab);
            let mut worst = 0.0f32;
            for (i, &t) in tokens.iter().enumerate() {
                let logits = s.step(Input::Token(t)).unwrap();
                assert!(
                    logits.iter().all(|v| v.is_finite()),
                    "{} {} {ty}: non-finite logits at step {i}",
                    shape.arch,
                    shape.name
                );
                worst = logits.iter().fold(worst, |m, v| m.max(v.abs()));
            }
            assert!(worst < 1e4, "{} {ty}: logits reach {worst}", shape.arch);
        }
    }
}

#[test]
fn real_shapes_are_described_and_unknown_ones_refused() {
    let s = find("mamba2", "mamba2-130m").unwrap();
    assert_eq!(s.vocab(), 50288);
    let err = find("jamba", "mamba2-130m").unwrap_err().to_string();
    assert!(err.contains("jamba-tiny-dev"), "{err}");
}
