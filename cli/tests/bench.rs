//! `weft bench` on the bundled model: the JSON report carries every documented key with sane
//! values, `--steps` writes one time per decode step and `--read-passes` adds the plain-read
//! percentiles. (No timing is asserted: speed is
//! measured by the benchmark itself, never by a test.)

use std::process::Command;

#[test]
fn json_report_has_every_key_and_steps_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let steps = dir.path().join("steps.txt");
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/demo-text.gguf");
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["bench", model, "-t", "1", "-p", "8", "-n", "16", "-r", "2"])
        .args(["--probe-mib", "8", "--read-passes", "20"])
        .args(["--json", "--steps"])
        .arg(&steps)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "load_ms",
        "prefill_tok_s",
        "decode_tok_s",
        "p50_ms",
        "p99_ms",
        "peak_rss_mb",
        "bytes_per_token",
        "achieved_gbps",
        "bandwidth_gbps",
        "roofline_fraction",
    ] {
        let x = v[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing in {v}"));
        assert!(x.is_finite() && x > 0.0, "{key} = {x}");
    }
    assert!(v["p50_ms"].as_f64() <= v["p99_ms"].as_f64());
    let (r50, r99) = (v["read_p50_ms"].as_f64(), v["read_p99_ms"].as_f64());
    assert!(
        r50.is_some_and(|x| x > 0.0) && r50 <= r99,
        "{r50:?} {r99:?}"
    );
    // Bytes per token cover at least the weights of one decode step.
    assert!(
        v["bytes_per_token"].as_u64().unwrap() >= v["weight_bytes_per_token"].as_u64().unwrap()
    );
    let times: Vec<f64> = std::fs::read_to_string(&steps)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(times.len(), 2 * 16, "one line per decode step of every run");
    assert!(times.iter().all(|t| *t > 0.0));
}
