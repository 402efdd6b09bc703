//! The trained demo model (`models/demo-text.gguf`, a q8_0 Zamba2) against transformers run on
//! the file's dequantized weights (`models/demo-text.ref.json`): top-5 logits at every prompt
//! position on both paths, and the greedy continuation.

use std::path::PathBuf;
use std::sync::Arc;

use weft::sample::SamplerConfig;
use weft::{Input, Model, SessionConfig};

fn demo() -> (Arc<Model>, serde_json::Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let model = Arc::new(Model::load(dir.join("demo-text.gguf")).expect("demo model loads"));
    let json = std::fs::read_to_string(dir.join("demo-text.ref.json")).unwrap();
    (model, serde_json::from_str(&json).unwrap())
}

fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Every reference top-5 (id, logit) pair matches our logit to 1e-3 (the file rounds to 1e-5).
fn check_top5(logits: &[f32], top5: &serde_json::Value, what: &str) {
    for pair in top5.as_array().unwrap() {
        let (id, value) = (
            pair[0].as_u64().unwrap() as usize,
            pair[1].as_f64().unwrap(),
        );
        let ours = logits[id] as f64;
        assert!(
            (ours - value).abs() < 1e-3,
            "{what}: token {id} logit {ours} vs {value}"
        );
    }
    let best = top5[0][0].as_u64().unwrap() as usize;
    let argmax = (0..logits.len())
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .unwrap();
    assert_eq!(argmax, best, "{what}: argmax");
}

#[test]
fn demo_model_matches_transformers_on_both_paths() {
    let (model, r) = demo();
    let reference = &r["gguf_dequantized"];
    let prompt = ids(&r["input_ids"]);
    let top5 = reference["top5"].as_array().unwrap();

    let mut decode = model.session(SessionConfig::default()).unwrap();
    for (t, &tok) in prompt.iter().enumerate() {
        check_top5(
            decode.step(Input::Token(tok)).unwrap(),
            &top5[t],
            &format!("decode t={t}"),
        );
    }
    let v = model.config().n_vocab;
    let config = SessionConfig {
        prefill_chunk: 5,
        logits_all: true,
        ..SessionConfig::default()
    };
    let mut prefill = model.session(config).unwrap();
    let mut all = vec![0.0; prompt.len() * v];
    prefill.prefill_all(&prompt, &mut all).unwrap();
    for (t, row) in all.chunks(v).enumerate() {
        check_top5(row, &top5[t], &format!("prefill t={t}"));
    }
}

#[test]
fn demo_model_greedy_continuation_matches() {
    let (model, r) = demo();
    let expected = ids(&r["gguf_dequantized"]["greedy_ids"]);
    let mut s = model.session(SessionConfig::default()).unwrap();
    s.prefill(&ids(&r["input_ids"])).unwrap();
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        let t = s.sample(&SamplerConfig::greedy()).unwrap();
        got.push(t);
        s.step(Input::Token(t)).unwrap();
    }
    assert_eq!(got, expected);
}
