//! `weft parity`: JSON report and exit status.

use std::path::PathBuf;
use std::process::Command;

fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(case)
}

fn parity(dir: &std::path::Path, ty: &str) -> (bool, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["parity", dir.to_str().unwrap(), "--type", ty, "--json"])
        .output()
        .unwrap();
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).expect("one JSON object"),
    )
}

#[test]
fn a_fixture_passes_and_reports_both_paths() {
    let (ok, r) = parity(&fixture("zamba2_b"), "f32");
    assert!(ok, "{r}");
    assert_eq!(r["case"], "zamba2_b");
    assert_eq!(r["type"], "f32");
    assert_eq!(r["pass"], true);
    assert_eq!(r["tolerance"], 1e-4);
    assert!(r["decode_max_rel"].as_f64().unwrap() < 1e-4);
    assert!(r["prefill_max_rel"].as_f64().unwrap() < 1e-4);
}

#[test]
fn a_wrong_reference_fails_with_exit_status_1() {
    // mamba2_a's model against llama_a's reference (same vocabulary, other logits).
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("mamba2_a").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::copy(
        fixture("llama_a").join("reference.safetensors"),
        dir.path().join("reference.safetensors"),
    )
    .unwrap();
    let (ok, r) = parity(dir.path(), "f32");
    assert!(!ok);
    assert_eq!(r["pass"], false);
    assert!(r["decode_max_rel"].as_f64().unwrap() > 0.1);
}
