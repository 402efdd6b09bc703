//! Errors of the tokenizer wrapper, its streaming decoder and its GGUF vocabulary builder.

use std::path::PathBuf;

use thiserror::Error;

/// Boxed error as the `tokenizers` crate reports it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("cannot read tokenizer file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("GGUF tokenizer metadata: {0}")]
    Gguf(#[from] crate::gguf::GgufError),
    #[error("invalid tokenizer.json: {source}")]
    Parse {
        #[source]
        source: BoxError,
    },
    #[error(
        "GGUF tokenizer model {0:?} needs tokenizer.huggingface.json (or a tokenizer.json \
         sidecar); only \"gpt2\" byte-level BPE can be built from tokenizer.ggml.* alone"
    )]
    UnsupportedModel(String),
    #[error(
        "GGUF pre-tokenizer {0:?} is not known here (known: default, gpt2, gpt-2, llama-bpe, \
         llama3, qwen2); ship a tokenizer.json sidecar"
    )]
    UnsupportedPreTokenizer(String),
    #[error("merge {index} ({merge:?}) is not two tokens separated by one space")]
    BadMerge { index: usize, merge: String },
    #[error("tokenizer.ggml.token_type has {types} entries for {tokens} tokens")]
    TokenTypesLength { tokens: usize, types: usize },
    #[error("building the BPE tokenizer failed: {source}")]
    Build {
        #[source]
        source: BoxError,
    },
    #[error("encoding failed: {source}")]
    Encode {
        #[source]
        source: BoxError,
    },
    #[error("decoding failed: {source}")]
    Decode {
        #[source]
        source: BoxError,
    },
    #[error("token id {id} is not in the vocabulary ({vocab_size} tokens)")]
    UnknownTokenId { id: u32, vocab_size: usize },
    #[error("{which} token id {id} is not in the vocabulary ({vocab_size} tokens)")]
    SpecialIdOutOfRange {
        which: &'static str,
        id: u32,
        vocab_size: usize,
    },
    #[error(
        "stream decode: text so far {prefix:?} is no longer a prefix of {text:?} \
         (the decoder rewrote earlier output)"
    )]
    StreamPrefixMismatch { prefix: String, text: String },
}
