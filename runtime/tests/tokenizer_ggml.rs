//! Byte-level BPE built from llama.cpp `tokenizer.ggml.*` arrays (GGUF files without
//! `tokenizer.huggingface.json`).

mod tokenizer_fixtures;

use tokenizer_fixtures::{bl, byte_level, ggml_arrays, id_of};
use weft::tokenizer::{GgmlVocab, Tokenizer, TokenizerError};

#[test]
fn encodes_with_merges_and_falls_back_to_bytes() {
    let (tok, a) = byte_level();
    assert_eq!(
        tok.encode("hello world", false).unwrap(),
        vec![id_of(&a, "hello"), id_of(&a, "Ġworld")]
    );
    // No merge covers "!" or "x": single byte tokens, whose id is the byte value here.
    assert_eq!(
        tok.encode("hello the x!", false).unwrap(),
        vec![
            id_of(&a, "hello"),
            id_of(&a, "Ġthe"),
            u32::from(b' '),
            u32::from(b'x'),
            33
        ]
    );
    // "你" is three bytes and has no merge: three tokens, the raw UTF-8 bytes.
    assert_eq!(tok.encode("你", false).unwrap(), vec![0xE4, 0xBD, 0xA0]);
}

#[test]
fn round_trips_arbitrary_text() {
    let (tok, _) = byte_level();
    for text in [
        "hello world",
        "  leading spaces, tabs\tand\nnewlines\r\n",
        "你好，世界 😀 👩‍👩‍👧 ünïcödé",
        "numbers 1234567 and 'quotes' don't",
        "",
    ] {
        let ids = tok.encode(text, false).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text);
    }
}

#[test]
fn control_tokens_are_special_and_user_defined_ones_are_not() {
    let (tok, a) = byte_level();
    let start = id_of(&a, "<|im_start|>");
    let end = id_of(&a, "<|im_end|>");
    let tool = id_of(&a, "<tool>");
    let ids = tok
        .encode("<|im_start|>hello<|im_end|><tool>", false)
        .unwrap();
    assert_eq!(ids, vec![start, id_of(&a, "hello"), end, tool]);
    assert_eq!(
        tok.decode(&ids).unwrap(),
        "<|im_start|>hello<|im_end|><tool>"
    );
    // Control tokens vanish when skipping specials; the user-defined one is ordinary text.
    assert_eq!(tok.decode_skip_special(&ids).unwrap(), "hello<tool>");
    assert_eq!(tok.eos_id(), Some(id_of(&a, "<|endoftext|>")));
    assert_eq!(tok.bos_id(), None);
    assert_eq!(tok.vocab_size(), a.tokens.len());
}

#[test]
fn add_bos_and_eos_follow_the_gguf_flags() {
    let a = ggml_arrays();
    let bos = id_of(&a, "<|im_start|>");
    let eos = id_of(&a, "<|endoftext|>");
    let v = GgmlVocab {
        token_types: &a.types,
        bos: Some(bos),
        eos: Some(eos),
        add_bos: true,
        add_eos: true,
        ..GgmlVocab::gpt2(&a.tokens, &a.merges)
    };
    let tok = Tokenizer::from_gguf_metadata(None, &v).unwrap();
    let hello = id_of(&a, "hello");
    assert_eq!(tok.encode("hello", true).unwrap(), vec![bos, hello, eos]);
    assert_eq!(tok.encode("hello", false).unwrap(), vec![hello]);
}

#[test]
fn from_ggml_bpe_without_token_types_still_treats_bos_eos_as_special() {
    let a = ggml_arrays();
    let eos = id_of(&a, "<|endoftext|>");
    let tok = Tokenizer::from_ggml_bpe(&a.tokens, &a.merges, None, Some(eos)).unwrap();
    assert_eq!(
        tok.encode("hello<|endoftext|>", false).unwrap(),
        vec![id_of(&a, "hello"), eos]
    );
    // Without a type, <|im_start|> is plain text: split by the pre-tokenizer into bytes.
    assert!(tok.encode("<|im_start|>", false).unwrap().len() > 1);
    // Works with borrowed strings too (what a zero-copy GGUF reader hands over).
    let tokens: Vec<&str> = a.tokens.iter().map(String::as_str).collect();
    let merges: Vec<&str> = a.merges.iter().map(String::as_str).collect();
    let tok2 = Tokenizer::from_ggml_bpe(&tokens, &merges, None, None).unwrap();
    assert_eq!(
        tok2.encode("hello world", false).unwrap(),
        vec![id_of(&a, "hello"), id_of(&a, "Ġworld")]
    );
}

#[test]
fn token_to_piece_decodes_the_byte_level_form() {
    let (tok, a) = byte_level();
    let world = id_of(&a, "Ġworld");
    assert_eq!(tok.id_to_token(world).as_deref(), Some("Ġworld"));
    assert_eq!(tok.token_to_piece(world).unwrap(), " world");
    assert_eq!(tok.token_to_id(&bl(" world")), Some(world));
    // Half a character cannot be shown on its own.
    assert_eq!(tok.token_to_piece(0xE4).unwrap(), "\u{FFFD}");
}

#[test]
fn pre_tokenizer_variants_follow_ggml_pre() {
    let a = ggml_arrays();
    let with_pre = |pre| {
        Tokenizer::from_gguf_metadata(
            None,
            &GgmlVocab {
                pre: Some(pre),
                ..GgmlVocab::gpt2(&a.tokens, &a.merges)
            },
        )
    };
    let ids = |names: &[&str]| -> Vec<u32> { names.iter().map(|t| id_of(&a, t)).collect() };
    // "12345" is one pre-token for GPT-2, "123" + "45" for llama3 (digits in threes), and five
    // single digits for qwen2; the merges then make each split visible in the ids.
    let cases: [(&str, &[&str]); 5] = [
        ("default", &["1", "2345"]),
        ("gpt2", &["1", "2345"]),
        ("llama-bpe", &["123", "45"]),
        ("llama3", &["123", "45"]),
        ("qwen2", &["1", "2", "3", "4", "5"]),
    ];
    for (pre, want) in cases {
        let tok = with_pre(pre).unwrap();
        assert_eq!(tok.encode("12345", false).unwrap(), ids(want), "{pre}");
        let text = "hello world 12345 don't\n\n  x";
        assert_eq!(tok.decode(&tok.encode(text, false).unwrap()).unwrap(), text);
        assert_eq!(
            tok.encode("hello world", false).unwrap(),
            ids(&["hello", "Ġworld"]),
            "{pre}"
        );
    }
    match with_pre("deepseek-coder") {
        Err(TokenizerError::UnsupportedPreTokenizer(name)) => assert_eq!(name, "deepseek-coder"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_metadata_is_a_typed_error() {
    let a = ggml_arrays();
    let spm = GgmlVocab {
        model: "llama",
        ..GgmlVocab::gpt2(&a.tokens, &a.merges)
    };
    assert!(matches!(
        Tokenizer::from_gguf_metadata(None, &spm),
        Err(TokenizerError::UnsupportedModel(m)) if m == "llama"
    ));

    let mut merges = a.merges.clone();
    merges[3] = "nospace".to_owned();
    let err = Tokenizer::from_ggml_bpe(&a.tokens, &merges, None, None).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::BadMerge { index: 3, merge } if merge == "nospace"),
        "{err:?}"
    );

    // A merge whose parts are not in the vocabulary.
    let merges = vec!["q z".to_owned()];
    let tokens: Vec<String> = a.tokens[..256].to_vec();
    assert!(matches!(
        Tokenizer::from_ggml_bpe(&tokens, &merges, None, None),
        Err(TokenizerError::Build { .. })
    ));

    let short = &a.types[..10];
    let v = GgmlVocab {
        token_types: short,
        ..GgmlVocab::gpt2(&a.tokens, &a.merges)
    };
    assert!(matches!(
        Tokenizer::from_gguf_metadata(None, &v),
        Err(TokenizerError::TokenTypesLength { types: 10, .. })
    ));

    let bad_eos = u32::try_from(a.tokens.len()).unwrap() + 5;
    let err = Tokenizer::from_ggml_bpe(&a.tokens, &a.merges, None, Some(bad_eos)).unwrap_err();
    assert!(
        matches!(err, TokenizerError::SpecialIdOutOfRange { which: "EOS", id, .. } if id == bad_eos),
        "{err:?}"
    );
}

#[test]
fn unknown_ids_are_errors_not_silently_dropped() {
    let (tok, a) = byte_level();
    let n = a.tokens.len() as u32;
    let err = tok.decode(&[id_of(&a, "hello"), n + 3]).unwrap_err();
    assert!(
        matches!(err, TokenizerError::UnknownTokenId { id, vocab_size } if id == n + 3 && vocab_size == n as usize),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("{}", n + 3)));
    assert!(tok.token_to_piece(n).is_err());
}
