//! The converter's public entry points: progress reporting, `general.name`, tokenizer embedding
//! and the lazy writer returned by `convert`.

use std::sync::{Arc, Mutex};

use weft::convert::{ConvertOptions, OutType, convert, convert_to_bytes, target_architecture};
use weft::gguf::Gguf;
use weft_tests::fixtures_dir;

#[test]
fn progress_reports_every_tensor_in_file_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let opts = ConvertOptions {
        out_type: OutType::Q4_0,
        name: Some("tiny zamba".into()),
        progress: Some(Arc::new(move |done, total, name: &str| {
            log.lock().unwrap().push((done, total, name.to_string()));
        })),
    };
    let g = Gguf::from_bytes(convert_to_bytes(&fixtures_dir().join("zamba2_a"), &opts).unwrap())
        .unwrap();
    let seen = seen.lock().unwrap();
    let n = g.tensors().len();
    assert_eq!(seen.len(), n);
    for (i, ((done, total, name), t)) in seen.iter().zip(g.tensors()).enumerate() {
        assert_eq!((*done, *total), (i + 1, n));
        assert_eq!(name, &t.name);
    }
    assert_eq!(g.get_str("general.name").unwrap(), "tiny zamba");
    assert_eq!(g.get_u32("general.file_type").unwrap(), 2);
}

#[test]
fn convert_returns_a_lazy_writer_after_checking_shapes() {
    let dir = fixtures_dir().join("llama_a");
    let w = convert(&dir, &ConvertOptions::new(OutType::F16)).unwrap();
    assert_eq!(w.n_tensors(), 2 + 2 * 9 + 1);
    let g = Gguf::from_bytes(w.into_bytes().unwrap()).unwrap();
    assert_eq!(g.get_str("general.architecture").unwrap(), "llama");
    assert_eq!(target_architecture(&dir).unwrap(), "llama");
}

#[test]
fn tokenizer_files_are_embedded_and_padded_to_the_vocab() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures_dir().join("mamba2_b").join(f), dir.join(f)).unwrap();
    }
    let tokenizer = r#"{"added_tokens": [{"id": 3, "content": "<|eos|>", "special": true}],
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}]},
        "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}"#;
    std::fs::write(dir.join("tokenizer.json"), tokenizer).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"eos_token": "<|eos|>", "chat_template": "{{x}}"}"#,
    )
    .unwrap();

    let g = Gguf::from_bytes(convert_to_bytes(&dir, &ConvertOptions::default()).unwrap()).unwrap();
    assert_eq!(g.get_str("tokenizer.huggingface.json").unwrap(), tokenizer);
    assert_eq!(g.get_str("tokenizer.ggml.model").unwrap(), "gpt2");
    let tokens = g.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 200, "padded to the 200 embedding rows");
    assert_eq!(&tokens[..5], ["a", "b", "ab", "<|eos|>", "[PAD4]"]);
    let types = g.get_i32_array("tokenizer.ggml.token_type").unwrap();
    assert_eq!(&types[..5], [1, 1, 1, 3, 5]);
    assert_eq!(g.get_str_array("tokenizer.ggml.merges").unwrap(), ["a b"]);
    assert_eq!(g.get_u32("tokenizer.ggml.eos_token_id").unwrap(), 3);
    assert_eq!(g.get_str("tokenizer.chat_template").unwrap(), "{{x}}");
}
