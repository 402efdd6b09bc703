//! Damaged checkpoints fail with the specific `ConvertError` variant, and the message names the
//! culprit (file, key or tensor) — never a panic.

use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;
use weft::convert::{ConvertError, ConvertOptions, OutType, convert_to_bytes};
use weft_tests::fixtures_dir;

/// A copy of fixture `case` in a temporary folder.
fn copy_of(case: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(case);
    std::fs::create_dir(&dir).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures_dir().join(case).join(f), dir.join(f)).unwrap();
    }
    (tmp, dir)
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut Value)) {
    let path = dir.join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// A tensor's dtype, shape and bytes.
type Raw = (Dtype, Vec<usize>, Vec<u8>);

/// Rewrites model.safetensors, letting `f` drop (None) or replace tensors.
fn edit_weights(dir: &Path, f: impl Fn(&str, Dtype, &[usize], &[u8]) -> Option<Raw>) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, Raw)> = st
        .tensors()
        .into_iter()
        .filter_map(|(n, v)| f(&n, v.dtype(), v.shape(), v.data()).map(|t| (n, t)))
        .collect();
    let views: Vec<(&str, TensorView)> = kept
        .iter()
        .map(|(n, (d, s, b))| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &path).unwrap();
}

fn convert(dir: &Path) -> ConvertError {
    convert_to_bytes(dir, &ConvertOptions::new(OutType::F32)).unwrap_err()
}

#[test]
fn unsupported_architecture_lists_the_supported_ones() {
    let (_t, dir) = copy_of("mamba2_a");
    edit_config(&dir, |c| {
        c["architectures"] = serde_json::json!(["GPT2LMHeadModel"])
    });
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::UnsupportedArchitecture(a) if a == "GPT2LMHeadModel"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("GPT2LMHeadModel")
            && msg.contains("Zamba2ForCausalLM")
            && msg.contains("LlamaForCausalLM"),
        "{msg}"
    );
}

#[test]
fn missing_config_json() {
    let (_t, dir) = copy_of("llama_a");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::MissingFile { path } if path.ends_with("config.json")),
        "{err:?}"
    );
    assert!(err.to_string().contains("config.json"));
}

#[test]
fn missing_weights_file() {
    let (_t, dir) = copy_of("llama_a");
    std::fs::remove_file(dir.join("model.safetensors")).unwrap();
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::MissingFile { path } if path.ends_with("model.safetensors")),
        "{err:?}"
    );
}

#[test]
fn missing_tensor_is_named() {
    let (_t, dir) = copy_of("jamba_a");
    let gone = "model.layers.1.feed_forward.experts.2.up_proj.weight";
    edit_weights(&dir, |n, d, s, b| {
        (n != gone).then(|| (d, s.to_vec(), b.to_vec()))
    });
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::MissingTensor { name, .. } if name == gone),
        "{err:?}"
    );
    assert!(err.to_string().contains(gone));
}

#[test]
fn missing_zamba2_shared_block_is_named() {
    let (_t, dir) = copy_of("zamba2_a");
    // Block 1 lives under hybrid layer 3 (call site 1); without it no layer holds block 1.
    edit_weights(&dir, |n, d, s, b| {
        (!n.starts_with("model.layers.3.shared_transformer.")).then(|| (d, s.to_vec(), b.to_vec()))
    });
    let err = convert(&dir);
    let want = "model.layers.3.shared_transformer.input_layernorm.weight";
    assert!(
        matches!(&err, ConvertError::MissingTensor { name, .. } if name == want),
        "{err:?}"
    );
}

#[test]
fn misshaped_tensor_reports_expected_and_actual_shapes() {
    let (_t, dir) = copy_of("mamba2_a");
    let bad = "backbone.layers.1.mixer.out_proj.weight";
    // [64, 128] stored transposed as [128, 64].
    edit_weights(&dir, |n, d, s, b| {
        Some((
            d,
            if n == bad {
                vec![s[1], s[0]]
            } else {
                s.to_vec()
            },
            b.to_vec(),
        ))
    });
    let err = convert(&dir);
    match &err {
        ConvertError::ShapeMismatch {
            name,
            expected,
            got,
        } => {
            assert_eq!(name, bad);
            assert_eq!(expected, &[64, 128]);
            assert_eq!(got, &[128, 64]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(bad) && msg.contains("[64, 128]") && msg.contains("[128, 64]"),
        "{msg}"
    );
}

#[test]
fn config_disagreeing_with_weights_is_a_shape_error() {
    let (_t, dir) = copy_of("llama_a");
    edit_config(&dir, |c| c["intermediate_size"] = serde_json::json!(100));
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::ShapeMismatch { name, expected, .. } if name == "model.layers.0.mlp.gate_proj.weight" && expected == &[100, 64]),
        "{err:?}"
    );
}

#[test]
fn unsupported_dtype_is_named() {
    let (_t, dir) = copy_of("mamba1_a");
    let bad = "backbone.layers.0.mixer.D";
    edit_weights(&dir, |n, d, s, b| {
        Some(if n == bad {
            (Dtype::I32, s.to_vec(), b.to_vec())
        } else {
            (d, s.to_vec(), b.to_vec())
        })
    });
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::UnsupportedDtype { name, dtype } if name == bad && dtype == "I32"),
        "{err:?}"
    );
}

#[test]
fn bad_config_values_name_the_key() {
    let (_t, dir) = copy_of("zamba2_a");
    edit_config(&dir, |c| {
        c["layers_block_type"][2] = serde_json::json!("attention")
    });
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::InvalidConfig { key, .. } if key == "layers_block_type"),
        "{err:?}"
    );

    let (_t, dir) = copy_of("mamba2_a");
    edit_config(&dir, |c| c["num_heads"] = serde_json::json!("eight"));
    let err = convert(&dir);
    assert!(
        matches!(&err, ConvertError::InvalidConfig { key, .. } if key == "num_heads"),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"eight\""), "{err}");
}

#[test]
fn corrupt_inputs_are_errors_not_panics() {
    let (_t, dir) = copy_of("mamba1_a");
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    assert!(
        matches!(convert(&dir), ConvertError::Json { path, .. } if path.ends_with("config.json"))
    );

    let (_t, dir) = copy_of("mamba1_a");
    std::fs::write(
        dir.join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{}",
    )
    .unwrap();
    assert!(
        matches!(convert(&dir), ConvertError::Safetensors { path, .. } if path.ends_with("model.safetensors"))
    );
}
