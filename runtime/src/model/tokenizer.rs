//! The tokenizer and chat template a GGUF file carries (docs/gguf.md, "Tokenizer"), as the
//! tokenizer module's types.

use crate::gguf::Gguf;
use crate::tokenizer::{GgmlVocab, Tokenizer, TokenizerError};

use super::Model;

/// `tokenizer.huggingface.json` (the Hugging Face `tokenizer.json`, verbatim).
pub const KEY_HF_JSON: &str = "tokenizer.huggingface.json";
/// `tokenizer.chat_template` (a Jinja string).
pub const KEY_CHAT_TEMPLATE: &str = "tokenizer.chat_template";

impl Model {
    /// The tokenizer embedded in the file (see [`tokenizer_from_gguf`]); `Ok(None)` when the file
    /// has none (load a sidecar `tokenizer.json` with [`Tokenizer::from_file`] then).
    pub fn tokenizer(&self) -> Result<Option<Tokenizer>, TokenizerError> {
        tokenizer_from_gguf(self.gguf())
    }

    /// The Jinja chat template of `tokenizer.chat_template`, if the file has one.
    pub fn chat_template(&self) -> Option<&str> {
        self.gguf().opt_str(KEY_CHAT_TEMPLATE).ok().flatten()
    }
}

/// The tokenizer of a GGUF file: `tokenizer.huggingface.json` when present, else one built from
/// the `tokenizer.ggml.*` arrays; BOS/EOS and `add_bos`/`add_eos` from `tokenizer.ggml.*`.
/// `Ok(None)` when the file has neither.
pub fn tokenizer_from_gguf(g: &Gguf) -> Result<Option<Tokenizer>, TokenizerError> {
    let hf_json = g.opt_str(KEY_HF_JSON)?;
    let tokens = g.opt_str_array("tokenizer.ggml.tokens")?;
    if hf_json.is_none() && tokens.is_none() {
        return Ok(None);
    }
    let merges = g.opt_str_array("tokenizer.ggml.merges")?.unwrap_or(&[]);
    let token_types = g
        .opt_i32_array("tokenizer.ggml.token_type")?
        .unwrap_or_default();
    let vocab = GgmlVocab {
        model: g.opt_str("tokenizer.ggml.model")?.unwrap_or("gpt2"),
        pre: g.opt_str("tokenizer.ggml.pre")?,
        tokens: tokens.unwrap_or(&[]),
        merges,
        token_types: &token_types,
        bos: g.opt_u32("tokenizer.ggml.bos_token_id")?,
        eos: g.opt_u32("tokenizer.ggml.eos_token_id")?,
        add_bos: g.opt_bool("tokenizer.ggml.add_bos_token")?.unwrap_or(false),
        add_eos: g.opt_bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false),
    };
    Tokenizer::from_gguf_metadata(hf_json, &vocab).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{GgufWriter, MetaValue};

    fn gguf(kvs: &[(&str, MetaValue)]) -> Gguf {
        let mut w = GgufWriter::new();
        for (k, v) in kvs {
            w.add_kv(k, v.clone()).unwrap();
        }
        Gguf::from_bytes(w.into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn no_tokenizer_keys_is_none() {
        assert!(tokenizer_from_gguf(&gguf(&[])).unwrap().is_none());
    }

    #[test]
    fn ggml_arrays_build_a_bpe_with_bos() {
        let s = |v: &[&str]| {
            MetaValue::Array(crate::gguf::MetaArray::String(
                v.iter().map(|x| x.to_string()).collect(),
            ))
        };
        let g = gguf(&[
            ("tokenizer.ggml.model", MetaValue::String("gpt2".into())),
            ("tokenizer.ggml.tokens", s(&["<s>", "a", "b", "ab"])),
            ("tokenizer.ggml.merges", s(&["a b"])),
            ("tokenizer.ggml.bos_token_id", MetaValue::U32(0)),
        ]);
        let tok = tokenizer_from_gguf(&g).unwrap().unwrap();
        assert_eq!(tok.bos_id(), Some(0));
        assert_eq!(tok.encode("ab", false).unwrap(), [3]);
    }

    #[test]
    fn a_wrongly_typed_key_is_an_error() {
        let g = gguf(&[("tokenizer.huggingface.json", MetaValue::U32(1))]);
        assert!(tokenizer_from_gguf(&g).is_err());
    }
}
