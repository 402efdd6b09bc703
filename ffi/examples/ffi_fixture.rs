//! Writes the model files and expected outputs the C and Java host tests run against:
//!
//! ```text
//! cargo run -p weft-ffi --example ffi_fixture -- <out_dir>
//! ```
//!
//! - `model.gguf`: fixture `zamba2_a` (hybrid Mamba-2 + shared attention, vocab 300) converted
//!   with the test tokenizer of `ffi/tests/data` embedded;
//! - `bare.gguf`: the same model without a tokenizer;
//! - `side/model.gguf` + `side/tokenizer.json`: the bare model with a sidecar tokenizer;
//! - `sensor.gguf`: the bundled sensor model (`models/demo-sensor.gguf`: 6-float IMU frames in,
//!   the predicted next frame out);
//! - `expected.txt`: what the Rust API computes — the prompt's ids, the greedy continuation and
//!   the logits after one frame, the sensor model's outputs for its first reference frames — one
//!   `name count values…` line each.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft::convert::{ConvertOptions, OutType, convert_to_path};
use weft::sample::SamplerConfig;
use weft::tokenizer::Tokenizer;
use weft::{Input, Model, SessionConfig};

/// Shared with tests/c/weft_test.c and ffi/java/test/WeftTest.java.
const PROMPT: &str = "Hello world! The quick brown fox";
const MAX_TOKENS: usize = 24;
const LOGITS_SHOWN: usize = 8;
/// Reference frames of `models/demo-sensor.ref.json` fed to the sensor model.
const SENSOR_FRAMES: usize = 4;

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Frame `i` of the frame test: small values that depend on the index only.
fn frame(n_embd: usize) -> Vec<f32> {
    (0..n_embd).map(|i| ((i % 7) as f32 - 3.0) * 0.05).collect()
}

fn line<T: std::fmt::Display>(out: &mut String, name: &str, values: &[T]) {
    let _ = write!(out, "{name} {}", values.len());
    for v in values {
        let _ = write!(out, " {v}");
    }
    out.push('\n');
}

fn convert(hf: &Path, out: &Path) -> Res {
    let opts = ConvertOptions {
        name: Some("weft-ffi-fixture".into()),
        ..ConvertOptions::new(OutType::F32)
    };
    convert_to_path(hf, out, &opts)?;
    Ok(())
}

fn main() -> Res {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: ffi_fixture <out_dir>")?,
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("workspace root")?;
    let case = root.join("tests/fixtures/zamba2_a");
    let data = root.join("ffi/tests/data");

    // An HF folder = the fixture + the test tokenizer, converted with the tokenizer embedded.
    let hf = out.join("hf");
    std::fs::create_dir_all(&hf)?;
    for (dir, file) in [
        (&case, "config.json"),
        (&case, "model.safetensors"),
        (&data, "tokenizer.json"),
        (&data, "tokenizer_config.json"),
    ] {
        std::fs::copy(dir.join(file), hf.join(file))?;
    }
    convert(&hf, &out.join("model.gguf"))?;
    convert(&case, &out.join("bare.gguf"))?;
    let side = out.join("side");
    std::fs::create_dir_all(&side)?;
    std::fs::copy(out.join("bare.gguf"), side.join("model.gguf"))?;
    std::fs::copy(data.join("tokenizer.json"), side.join("tokenizer.json"))?;

    // Expected outputs, straight from the Rust API (tokenizer read from the JSON file, not the
    // GGUF, so the C side's embedded-tokenizer path is checked independently).
    let model = Arc::new(Model::load(out.join("model.gguf"))?);
    let tok = Tokenizer::from_file(data.join("tokenizer.json"))?.with_bos_eos(Some(1), Some(2))?;
    let prompt = tok.encode(PROMPT, true)?;
    let mut s = model.session(SessionConfig::default())?;
    s.prefill(&prompt)?;
    let mut greedy = Vec::new();
    for _ in 0..MAX_TOKENS {
        let t = s.sample(&SamplerConfig::greedy())?;
        if Some(t) == tok.eos_id() {
            break;
        }
        greedy.push(t);
        s.step(Input::Token(t))?;
    }
    let mut f = model.session(SessionConfig::default())?;
    let logits = f.step(Input::Frame(&frame(model.config().n_embd)))?;
    let shown: Vec<String> = logits[..LOGITS_SHOWN]
        .iter()
        .map(|x| format!("{x:e}"))
        .collect();

    // The sensor model: its first reference frames, and the Rust API's output after each.
    std::fs::copy(
        root.join("models/demo-sensor.gguf"),
        out.join("sensor.gguf"),
    )?;
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("models/demo-sensor.ref.json"),
    )?)?;
    let sensor = Arc::new(Model::load(out.join("sensor.gguf"))?);
    let mut ss = sensor.session(SessionConfig::default())?;
    let (mut frames, mut outputs) = (Vec::new(), Vec::new());
    for f in reference["frames"]
        .as_array()
        .ok_or("frames")?
        .iter()
        .take(SENSOR_FRAMES)
    {
        let f: Vec<f32> = serde_json::from_value(f.clone())?;
        outputs.extend_from_slice(ss.step(Input::Frame(&f))?);
        frames.extend(f);
    }
    let show = |v: &[f32]| v.iter().map(|x| format!("{x:e}")).collect::<Vec<_>>();

    let mut text = String::new();
    line(&mut text, "prompt_ids", &prompt);
    line(&mut text, "greedy", &greedy);
    line(&mut text, "frame_logits", &shown);
    line(&mut text, "sensor_frames", &show(&frames));
    line(&mut text, "sensor_outputs", &show(&outputs));
    std::fs::write(out.join("expected.txt"), &text)?;
    print!("{text}");
    Ok(())
}
