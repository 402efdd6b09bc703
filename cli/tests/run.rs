//! `weft run` on the bundled demo model: the streamed text equals what the Rust API generates
//! with the same seed and options; errors are one line with exit status 1.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use weft::sample::SamplerConfig;
use weft::{Input, Model, SessionConfig};

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/demo-text.gguf")
}

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap()
}

/// `weft args` that must succeed: its stdout and stderr.
fn weft_ok(args: &[&str]) -> (String, String) {
    let out = weft(args);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

/// The same loop as `weft run`, through the library: BOS + prompt, prefill, sample/step.
fn api_generate(prompt: &str, n: usize, cfg: &SamplerConfig) -> String {
    api_generate_with(prompt, n, cfg, SessionConfig::default())
}

fn api_generate_with(prompt: &str, n: usize, cfg: &SamplerConfig, sc: SessionConfig) -> String {
    let model = Arc::new(Model::load(demo()).unwrap());
    let tok = model
        .tokenizer()
        .unwrap()
        .expect("demo model embeds its tokenizer");
    let mut ids = vec![tok.bos_id().unwrap()];
    ids.extend(tok.encode(prompt, false).unwrap());
    let mut s = model.session(sc).unwrap();
    s.set_seed(cfg.seed);
    s.prefill(&ids).unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let t = s.sample(cfg).unwrap();
        if Some(t) == tok.eos_id() {
            break;
        }
        out.push(t);
        s.step(Input::Token(t)).unwrap();
    }
    format!("{prompt}{}\n", tok.decode_skip_special(&out).unwrap())
}

#[test]
fn run_with_a_seed_prints_what_the_api_generates() {
    let cfg = SamplerConfig {
        seed: 7,
        ..SamplerConfig::default()
    };
    let expected = api_generate("And God said", 40, &cfg);
    let (text, err) = weft_ok(&[
        "run",
        "--prompt",
        "And God said",
        "-n",
        "40",
        "--seed",
        "7",
        "-q",
    ]);
    assert_eq!(text, expected);
    assert!(err.is_empty(), "--quiet prints nothing on stderr");
    // KJV vocabulary, not noise.
    assert!(text.split_whitespace().count() > 20, "{text}");
    // A different seed gives different text; the same options and model path give the same.
    let other = weft(&[
        "run",
        "--prompt",
        "And God said",
        "-n",
        "40",
        "--seed",
        "8",
        "-q",
    ]);
    assert_ne!(String::from_utf8(other.stdout).unwrap(), expected);
    let again = weft(&[
        "run",
        demo().to_str().unwrap(),
        "--prompt",
        "And God said",
        "-n",
        "40",
        "--seed",
        "7",
        "-q",
    ]);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), expected);
}

#[test]
fn int8_flag_reaches_the_session() {
    // The demo model is Q8_0: int8 activations round the logits differently, so a seeded
    // sampled stream parts ways with the f32 one (checked), and `--int8` prints the int8 API's.
    let cfg = SamplerConfig {
        seed: 3,
        ..SamplerConfig::default()
    };
    let int8 = SessionConfig {
        int8_activations: true,
        ..SessionConfig::default()
    };
    let expected = api_generate_with("And the earth", 80, &cfg, int8);
    assert_ne!(expected, api_generate("And the earth", 80, &cfg));
    let (text, stats) = weft_ok(&[
        "run",
        "-p",
        "And the earth",
        "-n",
        "80",
        "--seed",
        "3",
        "--int8",
    ]);
    assert_eq!(text, expected);
    assert!(stats.contains("int8 activations"), "{stats}");
}

#[test]
fn greedy_options_reach_the_sampler() {
    let cfg = SamplerConfig {
        top_k: 5,
        ..SamplerConfig::greedy()
    };
    let expected = api_generate("In the beginning", 16, &cfg);
    let out = weft(&[
        "run",
        "-p",
        "In the beginning",
        "-n",
        "16",
        "--temp",
        "0",
        "--top-k",
        "5",
        "--top-p",
        "1",
        "--min-p",
        "0",
        "-q",
    ]);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn statistics_go_to_stderr() {
    let (_, err) = weft_ok(&["run", "-p", "The LORD", "-n", "5", "--seed", "1"]);
    assert!(err.contains("generated 5 tok in"), "{err}");
    assert!(err.contains("tok/s"), "{err}");
    if cfg!(target_os = "linux") {
        assert!(err.contains("peak memory"), "{err}");
    }
}

#[test]
fn errors_say_what_to_do() {
    let out = weft(&["run", "no-such-model.gguf", "-p", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: model file no-such-model.gguf not found"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = weft(&["run", "-p", "x", "--temp=-1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("sampling options") && err.contains("temperature"),
        "{err}"
    );

    // A file that is not GGUF names the file.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.gguf");
    std::fs::write(&bad, b"not a gguf file at all").unwrap();
    let out = weft(&["run", bad.to_str().unwrap(), "-p", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("bad.gguf"), "{err}");
}

#[test]
fn huge_pages_flag_gives_the_mapped_models_text() {
    // The weights are read into huge pages instead of mapped: same bytes, same text.
    let cfg = SamplerConfig {
        seed: 5,
        ..SamplerConfig::default()
    };
    let expected = api_generate("And the earth", 40, &cfg);
    let (text, stats) = weft_ok(&[
        "run",
        "-p",
        "And the earth",
        "-n",
        "40",
        "--seed",
        "5",
        "--huge-pages",
    ]);
    assert_eq!(text, expected);
    assert!(stats.contains("huge pages"), "{stats}");
}
