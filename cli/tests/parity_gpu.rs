//! `weft parity --backend gpu` on every fixture in every storage type (feature `gpu`; run by
//! scripts/test-gpu.sh on lavapipe). Without an adapter the command must fail, never fall back.
#![cfg(feature = "gpu")]

use std::process::Command;

use weft_testkit::hf_cases as fixtures;

#[test]
fn every_fixture_passes_on_the_gpu() {
    let dirs = fixtures();
    assert_eq!(dirs.len(), 10, "five architectures, two cases each");
    for dir in dirs {
        for ty in ["f32", "q8_0", "q4_0"] {
            let out = Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(["parity", dir.to_str().unwrap(), "--type", ty])
                .args(["--backend", "gpu", "--json"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{} {ty}: {stderr}", dir.display());
            let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["backend"], "gpu");
            assert_eq!(r["pass"], true, "{r}");
            if ty == "f32" {
                assert_eq!(r["tolerance"], 1e-3);
                let worst = r["decode_max_rel"].as_f64().unwrap();
                assert!(
                    worst.max(r["prefill_max_rel"].as_f64().unwrap()) <= 1e-3,
                    "{r}"
                );
            }
            eprintln!("{r}");
        }
    }
}
