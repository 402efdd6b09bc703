//! Hugging Face `tokenizer.json` loading: from a string, a sidecar file, and GGUF metadata.

mod tokenizer_fixtures;

use tokenizer_fixtures::{SPM_FIRST_PIECE, SPM_PIECES, spm, spm_byte, spm_json};
use weft::tokenizer::{GgmlVocab, Tokenizer, TokenizerError};

/// Id of a piece in the byte-fallback fixture: single characters first, then merge results.
fn piece(p: &str) -> u32 {
    if let Some(i) = SPM_PIECES.iter().position(|x| *x == p) {
        return SPM_FIRST_PIECE + i as u32;
    }
    let i = tokenizer_fixtures::SPM_MERGES
        .iter()
        .position(|(a, b)| format!("{a}{b}") == p)
        .unwrap();
    SPM_FIRST_PIECE + (SPM_PIECES.len() + i) as u32
}

#[test]
fn encodes_with_bos_from_the_post_processor() {
    let tok = spm();
    let body = vec![piece("▁hello"), piece("▁world")];
    assert_eq!(tok.encode("hello world", false).unwrap(), body);
    let mut with_bos = vec![1];
    with_bos.extend(&body);
    assert_eq!(tok.encode("hello world", true).unwrap(), with_bos);
    assert_eq!(tok.bos_id(), Some(1));
    assert_eq!(tok.eos_id(), Some(2));
    assert_eq!(tok.vocab_size(), 3 + 256 + 8 + 10);
}

#[test]
fn unknown_characters_fall_back_to_bytes_and_round_trip() {
    let tok = spm();
    // "é" is not a piece: its two UTF-8 bytes become <0xC3> <0xA9>.
    assert_eq!(
        tok.encode("é", false).unwrap(),
        vec![piece("▁"), spm_byte(0xC3), spm_byte(0xA9)]
    );
    for text in ["hello world", "hello 😀 wörld 你好", "world  hello"] {
        let ids = tok.encode(text, true).unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(tok.decode_skip_special(&ids).unwrap(), text);
        assert_eq!(tok.decode(&ids[1..]).unwrap(), text);
    }
    // Special tokens are kept by `decode` and dropped by `decode_skip_special`.
    let ids = [1, piece("▁hello"), 2];
    assert!(tok.decode(&ids).unwrap().contains("</s>"));
    assert_eq!(tok.decode_skip_special(&ids).unwrap(), "hello");
}

#[test]
fn loads_a_sidecar_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, spm_json()).unwrap();
    let tok = Tokenizer::from_file(&path).unwrap();
    assert_eq!(tok.encode("hello", false).unwrap(), vec![piece("▁hello")]);
    // BOS/EOS are not part of tokenizer.json.
    assert_eq!((tok.bos_id(), tok.eos_id()), (None, None));

    let missing = dir.path().join("nope.json");
    match Tokenizer::from_file(&missing) {
        Err(TokenizerError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
}

#[test]
fn gguf_metadata_prefers_the_embedded_json() {
    let json = spm_json();
    // The ggml arrays are empty and the model name is one we cannot build: the JSON is used.
    let none: &[String] = &[];
    let v = GgmlVocab {
        model: "llama",
        bos: Some(1),
        eos: Some(2),
        ..GgmlVocab::gpt2(none, none)
    };
    let tok = Tokenizer::from_gguf_metadata(Some(&json), &v).unwrap();
    assert_eq!((tok.bos_id(), tok.eos_id()), (Some(1), Some(2)));
    assert_eq!(tok.encode("hello", true).unwrap(), vec![1, piece("▁hello")]);
}

#[test]
fn malformed_json_is_a_typed_error() {
    for bad in ["", "{", r#"{"model": {"type": "Nope"}}"#] {
        let err = Tokenizer::from_json_str(bad).unwrap_err();
        assert!(matches!(err, TokenizerError::Parse { .. }), "{err:?}");
        assert!(err.to_string().starts_with("invalid tokenizer.json"));
    }
    let err = spm().with_bos_eos(Some(99_999), None).unwrap_err();
    assert!(
        matches!(
            err,
            TokenizerError::SpecialIdOutOfRange {
                which: "BOS",
                id: 99_999,
                ..
            }
        ),
        "{err:?}"
    );
}
