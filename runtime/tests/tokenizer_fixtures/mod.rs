//! Tiny tokenizers built in the tests themselves: a GPT-2-style byte-level BPE given as llama.cpp
//! `tokenizer.ggml.*` arrays, and a Llama-2-style byte-fallback BPE given as `tokenizer.json`.
#![allow(dead_code)] // each test binary uses part of this module

use serde_json::{Value, json};
use weft::tokenizer::{GgmlVocab, TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED, Tokenizer};

/// GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100 onwards.
pub fn byte_char(b: u8) -> char {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    if printable(b) {
        return char::from(b);
    }
    let rank = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + rank).unwrap()
}

/// Byte-level encoding of a string, as stored in the vocabulary (`" world"` → `"Ġworld"`).
pub fn bl(s: &str) -> String {
    s.bytes().map(byte_char).collect()
}

pub const BL_MERGES: &[(&str, &str)] = &[
    ("h", "e"),
    ("l", "l"),
    ("he", "ll"),
    ("hell", "o"),
    ("Ġ", "w"),
    ("o", "r"),
    ("Ġw", "or"),
    ("l", "d"),
    ("Ġwor", "ld"),
    ("Ġ", "t"),
    ("Ġt", "he"),
    // Digits: the pre-tokenizer decides what these can join (see tokenizer_ggml.rs).
    ("2", "3"),
    ("4", "5"),
    ("23", "45"),
    ("1", "23"),
];

pub const SPECIALS: &[&str] = &["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
pub const USER_DEFINED: &str = "<tool>";

/// llama.cpp arrays: ids 0..=255 are the single bytes (id = byte value), then one token per merge,
/// then the control tokens, then one user-defined token.
pub struct GgmlArrays {
    pub tokens: Vec<String>,
    pub merges: Vec<String>,
    pub types: Vec<i32>,
}

pub fn ggml_arrays() -> GgmlArrays {
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
    let mut merges = Vec::new();
    for (a, b) in BL_MERGES {
        tokens.push(format!("{a}{b}"));
        merges.push(format!("{a} {b}"));
    }
    let mut types = vec![1; tokens.len()];
    for s in SPECIALS {
        tokens.push((*s).to_owned());
        types.push(TOKEN_TYPE_CONTROL);
    }
    tokens.push(USER_DEFINED.to_owned());
    types.push(TOKEN_TYPE_USER_DEFINED);
    GgmlArrays {
        tokens,
        merges,
        types,
    }
}

pub fn id_of(a: &GgmlArrays, token: &str) -> u32 {
    a.tokens.iter().position(|t| t == token).unwrap() as u32
}

/// The byte-level tokenizer with token types; EOS = `<|endoftext|>`, no BOS.
pub fn byte_level() -> (Tokenizer, GgmlArrays) {
    let a = ggml_arrays();
    let eos = id_of(&a, "<|endoftext|>");
    let v = GgmlVocab {
        token_types: &a.types,
        eos: Some(eos),
        ..GgmlVocab::gpt2(&a.tokens, &a.merges)
    };
    let tok = Tokenizer::from_gguf_metadata(None, &v).unwrap();
    (tok, a)
}

pub const SPM_PIECES: &[&str] = &["▁", "h", "e", "l", "o", "w", "r", "d"];
pub const SPM_MERGES: &[(&str, &str)] = &[
    ("▁", "h"),
    ("e", "l"),
    ("l", "o"),
    ("▁h", "el"),
    ("▁hel", "lo"),
    ("▁", "w"),
    ("o", "r"),
    ("▁w", "or"),
    ("▁wor", "l"),
    ("▁worl", "d"),
];

/// First id of the single-character pieces; `<unk>`, `<s>`, `</s>` are 0..=2, `<0x00>`.. follow.
pub const SPM_FIRST_PIECE: u32 = 3 + 256;

/// A Llama-2-style `tokenizer.json`: SentencePiece BPE with byte fallback, `<s>` prepended by the
/// post-processor, `▁` for spaces and the first space stripped on decode.
pub fn spm_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["<unk>", "<s>", "</s>"].iter().enumerate() {
        vocab.insert((*t).to_owned(), json!(i));
    }
    for b in 0..=255u32 {
        vocab.insert(format!("<0x{b:02X}>"), json!(3 + b));
    }
    let mut next = SPM_FIRST_PIECE;
    for p in SPM_PIECES {
        vocab.insert((*p).to_owned(), json!(next));
        next += 1;
    }
    for (a, b) in SPM_MERGES {
        vocab.insert(format!("{a}{b}"), json!(next));
        next += 1;
    }
    let special = |id: u32, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let merges: Vec<Value> = SPM_MERGES
        .iter()
        .map(|(a, b)| json!(format!("{a} {b}")))
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}
        ]},
        "pre_tokenizer": null,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}
        ]},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": "<unk>",
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
            "vocab": vocab, "merges": merges
        }
    })
    .to_string()
}

/// The byte-fallback tokenizer with BOS `<s>` (1) and EOS `</s>` (2).
pub fn spm() -> Tokenizer {
    Tokenizer::from_json_str(&spm_json())
        .unwrap()
        .with_bos_eos(Some(1), Some(2))
        .unwrap()
}

/// Ids of `<0xNN>` byte tokens in the byte-fallback tokenizer.
pub fn spm_byte(b: u8) -> u32 {
    3 + u32::from(b)
}
