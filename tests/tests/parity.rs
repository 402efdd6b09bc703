//! Every fixture of every architecture matches Hugging Face transformers in f32 (1e-4 relative
//! per position) on the decode path and on the prefill path with several chunk sizes; files
//! written by llama.cpp's own Python writer load and match too.

use std::sync::Arc;

use weft::Model;
use weft::convert::OutType;
use weft::parity::{check_fixture, score, tolerance};
use weft_tests::{case_name, fixtures_dir, hf_cases, reference};

#[test]
fn every_fixture_passes_f32_parity_on_both_paths() {
    let cases = hf_cases();
    assert!(
        cases.len() >= 10,
        "expected the 10 reference fixtures, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for dir in &cases {
        let report = check_fixture(dir, OutType::F32).expect("parity runs");
        eprintln!(
            "{:<10} f32 decode {:.2e} prefill {:.2e}",
            report.case, report.decode_max_rel, report.prefill_max_rel
        );
        assert_eq!(report.tolerance, 1e-4);
        if !report.pass {
            failures.push(report);
        }
    }
    assert!(failures.is_empty(), "failed: {failures:#?}");
    let archs: std::collections::BTreeSet<String> = cases
        .iter()
        .map(|d| case_name(d).split('_').next().unwrap().to_string())
        .collect();
    assert_eq!(archs.len(), 5, "all five architectures covered: {archs:?}");
}

#[test]
fn gguf_py_files_load_and_match_the_reference() {
    let dir = fixtures_dir().join("gguf_py");
    for (file, case, ty) in [
        ("mamba2_a.gguf", "mamba2_a", OutType::F32),
        ("mamba1_a.gguf", "mamba1_a", OutType::F32),
        ("mamba2_a.q8_0.gguf", "mamba2_a", OutType::Q8_0),
    ] {
        let model = Arc::new(Model::load(dir.join(file)).expect("llama.cpp-style file loads"));
        let s = score(&model, &reference(case)).expect("scores");
        eprintln!(
            "{file}: decode {:.2e} prefill {:.2e}",
            s.decode_max_rel, s.prefill_max_rel
        );
        assert!(
            s.decode_max_rel <= tolerance(ty) && s.prefill_max_rel <= tolerance(ty),
            "{file}: {s:?}"
        );
    }
}
