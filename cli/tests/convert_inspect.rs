//! End-to-end: `weft convert` a fixture, then `weft inspect --json` reports the right layer plan;
//! bad input gives a clear error and a non-zero exit status, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(case)
}

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Converts `case` to `ty` in `dir` and returns `weft inspect --json` of the result.
fn convert_and_inspect(dir: &Path, case: &str, ty: &str) -> Value {
    let out = dir.join(format!("{case}.{ty}.gguf"));
    let o = weft(&[
        "convert",
        fixture(case).to_str().unwrap(),
        out.to_str().unwrap(),
        "--type",
        ty,
    ]);
    assert!(o.status.success(), "convert failed: {}", text(&o.stderr));
    let summary = text(&o.stdout);
    assert!(
        summary.contains("tensors") && summary.contains("bytes"),
        "{summary}"
    );
    let o = weft(&["inspect", "--json", out.to_str().unwrap()]);
    assert!(o.status.success(), "inspect failed: {}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("inspect --json prints one JSON object")
}

fn plan(r: &Value) -> Vec<(String, String)> {
    r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_string(),
                l["ffn"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn jamba_layer_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let r = convert_and_inspect(tmp.path(), "jamba_a", "q8_0");
    assert_eq!(r["architecture"], "jamba");
    assert_eq!(r["file_type"], 7);
    let want = [
        ("mamba", "dense"),
        ("attention", "moe"),
        ("mamba", "dense"),
        ("attention", "moe"),
    ];
    assert_eq!(plan(&r), want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(r["layers"][1]["experts"], 4);
    assert_eq!(
        r["hparams"]["jamba.attention.head_count_kv"],
        json!([0, 2, 0, 2])
    );
    assert_eq!(
        r["hparams"]["jamba.attention.layer_norm_rms_epsilon"],
        json!(1e-6)
    );
    // Totals add up over the tensor table.
    let tensors = r["tensors"].as_array().unwrap();
    let bytes: u64 = tensors.iter().map(|t| t["bytes"].as_u64().unwrap()).sum();
    assert_eq!(r["totals"]["bytes"], bytes);
    assert_eq!(r["totals"]["tensors"], tensors.len());
    assert!(r["totals"]["by_type"]["Q8_0"]["tensors"].as_u64().unwrap() > 0);

    let r = convert_and_inspect(tmp.path(), "jamba_b", "f32");
    let want = [("attention", "moe"), ("mamba", "moe"), ("mamba", "moe")];
    assert_eq!(plan(&r), want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert_eq!(r["layers"][2]["experts"], 3);
}

#[test]
fn zamba2_call_sites_and_shared_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let r = convert_and_inspect(tmp.path(), "zamba2_a", "f16");
    let layers = r["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 6);
    for (i, want) in [(1, (0, 0)), (3, (1, 1)), (4, (2, 0))] {
        assert_eq!(layers[i]["kind"], "hybrid", "layer {i}");
        assert_eq!(layers[i]["mixer"], "mamba2");
        assert_eq!(
            (
                layers[i]["call_site"].clone(),
                layers[i]["shared_block"].clone()
            ),
            (json!(want.0), json!(want.1))
        );
    }
    for i in [0, 2, 5] {
        assert_eq!(layers[i]["kind"], "mamba2", "layer {i}");
        assert!(layers[i].get("call_site").is_none());
    }
    assert_eq!(
        r["shared_blocks"],
        json!([
            {"block": 0, "tensors": 8, "call_sites": [0, 2], "layers": [1, 4]},
            {"block": 1, "tensors": 8, "call_sites": [1], "layers": [3]},
        ])
    );

    let r = convert_and_inspect(tmp.path(), "zamba2_b", "q4_0");
    let hybrid: Vec<u64> = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "hybrid")
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(hybrid, [0, 3]);
    assert_eq!(r["shared_blocks"][0]["call_sites"], json!([0, 1]));
}

#[test]
fn tokenizer_summary_and_text_view() {
    let tmp = tempfile::tempdir().unwrap();
    let r = convert_and_inspect(tmp.path(), "llama_b", "f32");
    assert_eq!(
        plan(&r),
        vec![("attention".to_string(), "dense".to_string()); 3]
    );
    assert_eq!(r["tokenizer"]["bos_token_id"], 1);
    assert_eq!(r["tokenizer"]["eos_token_id"], 2);
    assert_eq!(r["tokenizer"]["has_hf_json"], false);

    let o = weft(&[
        "inspect",
        tmp.path().join("llama_b.f32.gguf").to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let t = text(&o.stdout);
    for needle in [
        "architecture llama",
        "llama.rope.freq_base = 500000",
        "blk.2.ffn_down.weight",
        "tokenizer:",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in:\n{t}");
    }
}

#[test]
fn llama_cpp_written_files_are_inspected_too() {
    let r = weft(&[
        "inspect",
        "--json",
        fixture("gguf_py").join("mamba1_a.gguf").to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let r: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(plan(&r), vec![("mamba".to_string(), "none".to_string()); 3]);
}

#[test]
fn bad_input_is_a_clear_error_with_nonzero_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.gguf");
    std::fs::write(&junk, b"not a gguf file at all").unwrap();
    for args in [
        vec!["inspect", junk.to_str().unwrap()],
        vec![
            "inspect",
            "--json",
            tmp.path().join("absent.gguf").to_str().unwrap(),
        ],
    ] {
        let o = weft(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.starts_with("error: ") && err.contains(".gguf"), "{err}");
        assert!(!err.contains("panicked") && o.stdout.is_empty(), "{err}");
    }

    let o = weft(&[
        "convert",
        tmp.path().to_str().unwrap(),
        junk.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("config.json"),
        "{}",
        text(&o.stderr)
    );

    let o = weft(&[
        "convert",
        fixture("mamba1_a").to_str().unwrap(),
        "x.gguf",
        "--type",
        "q5_k",
    ]);
    assert_eq!(o.status.code(), Some(2), "clap rejects unknown types");
}
