//! Text ↔ token ids: a thin wrapper over the `tokenizers` crate, plus streaming detokenisation and
//! chat-template rendering.
//!
//! A GGUF file carries its tokenizer either as `tokenizer.huggingface.json` (the HF
//! `tokenizer.json`, verbatim) or as llama.cpp's `tokenizer.ggml.*` arrays; both load here without
//! depending on the GGUF reader: the caller hands over the strings.

mod chat;
mod error;
mod ggml;
mod pyjson;
mod stream;
mod strftime;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

pub use chat::{ChatMessage, ChatTemplate, ChatTemplateError, DEFAULT_CHAT_TEMPLATE};
pub use error::{BoxError, TokenizerError};
pub use ggml::{GgmlVocab, TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED};
pub use stream::StreamDecoder;

/// A loaded tokenizer. Cloning is cheap (the vocabulary is shared), so sessions and stream
/// decoders can each hold one.
#[derive(Clone)]
pub struct Tokenizer {
    inner: Arc<tokenizers::Tokenizer>,
    bos: Option<u32>,
    eos: Option<u32>,
    /// Prepend BOS / append EOS on `encode(.., add_special = true)`. Only the llama.cpp path sets
    /// these: a `tokenizer.json` does it with its own post-processor.
    add_bos: bool,
    add_eos: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    fn wrap(inner: tokenizers::Tokenizer) -> Self {
        Self {
            inner: Arc::new(inner),
            bos: None,
            eos: None,
            add_bos: false,
            add_eos: false,
        }
    }

    /// Parses a Hugging Face `tokenizer.json`. BOS/EOS are unknown until [`Self::with_bos_eos`].
    pub fn from_json_str(json: &str) -> Result<Self, TokenizerError> {
        let inner = tokenizers::Tokenizer::from_str(json)
            .map_err(|source| TokenizerError::Parse { source })?;
        Ok(Self::wrap(inner))
    }

    /// Loads a sidecar `tokenizer.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, TokenizerError> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|source| TokenizerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json_str(&json)
    }

    /// The tokenizer of a GGUF file: `tokenizer.huggingface.json` when present, otherwise built
    /// from the `tokenizer.ggml.*` arrays in `vocab`. BOS/EOS always come from `vocab`.
    pub fn from_gguf_metadata<S: AsRef<str>>(
        hf_json: Option<&str>,
        vocab: &GgmlVocab<'_, S>,
    ) -> Result<Self, TokenizerError> {
        match hf_json {
            Some(json) => Self::from_json_str(json)?.with_bos_eos(vocab.bos, vocab.eos),
            None => ggml::build(vocab),
        }
    }

    /// Byte-level BPE (llama.cpp `tokenizer.ggml.model = "gpt2"`) from its token strings (index =
    /// id) and `"left right"` merges, with the GPT-2 pre-tokenizer and no automatic BOS.
    pub fn from_ggml_bpe<S: AsRef<str>>(
        tokens: &[S],
        merges: &[S],
        bos: Option<u32>,
        eos: Option<u32>,
    ) -> Result<Self, TokenizerError> {
        ggml::build(&GgmlVocab {
            bos,
            eos,
            ..GgmlVocab::gpt2(tokens, merges)
        })
    }

    /// Sets the BOS/EOS ids (e.g. from GGUF keys or `tokenizer_config.json`), checking both exist.
    pub fn with_bos_eos(
        mut self,
        bos: Option<u32>,
        eos: Option<u32>,
    ) -> Result<Self, TokenizerError> {
        for (which, id) in [("BOS", bos), ("EOS", eos)] {
            if let Some(id) = id
                && self.inner.id_to_token(id).is_none()
            {
                return Err(TokenizerError::SpecialIdOutOfRange {
                    which,
                    id,
                    vocab_size: self.vocab_size(),
                });
            }
        }
        self.bos = bos;
        self.eos = eos;
        Ok(self)
    }

    /// Token ids of `text`. With `add_special`, the tokenizer's own special tokens (BOS etc.) are
    /// added. Special-token strings inside `text` (e.g. `<|im_start|>` from a chat template) are
    /// always recognised as single tokens.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode(text, add_special)
            .map_err(|source| TokenizerError::Encode { source })?;
        let body = enc.get_ids();
        let bos = self.bos.filter(|_| add_special && self.add_bos);
        let eos = self.eos.filter(|_| add_special && self.add_eos);
        let mut ids = Vec::with_capacity(body.len() + 2);
        ids.extend(bos);
        ids.extend_from_slice(body);
        ids.extend(eos);
        Ok(ids)
    }

    /// Text of `ids`, special tokens included (lossless for inspection and round trips).
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.decode_with(ids, false)
    }

    /// Text of `ids` with special tokens (BOS, EOS, chat markers) left out: what a user sees.
    pub fn decode_skip_special(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.decode_with(ids, true)
    }

    pub(crate) fn decode_with(
        &self,
        ids: &[u32],
        skip_special: bool,
    ) -> Result<String, TokenizerError> {
        // `tokenizers` silently drops unknown ids; report them instead.
        if let Some(&id) = ids.iter().find(|&&id| !self.contains_id(id)) {
            return Err(self.unknown(id));
        }
        self.inner
            .decode(ids, skip_special)
            .map_err(|source| TokenizerError::Decode { source })
    }

    /// The decoded text of one token (`" hello"` for byte-level `"Ġhello"`). A token that holds
    /// only part of a UTF-8 character decodes to U+FFFD here; use [`StreamDecoder`] for output.
    pub fn token_to_piece(&self, id: u32) -> Result<String, TokenizerError> {
        self.decode(&[id])
    }

    /// The raw vocabulary string of `id` (`"Ġhello"`), if it exists.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of a raw vocabulary string, added tokens included.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Number of tokens, added (special) tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// The wrapped `tokenizers` tokenizer, for anything this wrapper does not cover.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    fn contains_id(&self, id: u32) -> bool {
        self.inner.id_to_token(id).is_some()
    }

    fn unknown(&self, id: u32) -> TokenizerError {
        TokenizerError::UnknownTokenId {
            id,
            vocab_size: self.vocab_size(),
        }
    }
}
