//! Builds a byte-level BPE tokenizer from llama.cpp's `tokenizer.ggml.*` metadata, for GGUF files
//! that carry no `tokenizer.huggingface.json`.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use super::{Tokenizer, TokenizerError};

/// `tokenizer.ggml.token_type` of control tokens (BOS, EOS, chat markers): added as special.
pub const TOKEN_TYPE_CONTROL: i32 = 3;
/// `tokenizer.ggml.token_type` of user-defined tokens: matched whole in text, but not special.
pub const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Pre-tokenizer split patterns of the `tokenizer.ggml.pre` names we know, as in the models'
/// own `tokenizer.json` files.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The `tokenizer.ggml.*` values a GGUF reader hands over (strings borrowed from the file).
#[derive(Debug, Clone, Copy)]
pub struct GgmlVocab<'a, S> {
    /// `tokenizer.ggml.model`; only `"gpt2"` (byte-level BPE) can be built.
    pub model: &'a str,
    /// `tokenizer.ggml.pre`; `None` means the GPT-2 pattern.
    pub pre: Option<&'a str>,
    /// `tokenizer.ggml.tokens`: index = id, byte-level encoded (`"Ġthe"`).
    pub tokens: &'a [S],
    /// `tokenizer.ggml.merges`: `"left right"`, highest priority first.
    pub merges: &'a [S],
    /// `tokenizer.ggml.token_type`, empty when absent.
    pub token_types: &'a [i32],
    /// `tokenizer.ggml.bos_token_id` / `eos_token_id`.
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token`.
    pub add_bos: bool,
    pub add_eos: bool,
}

impl<'a, S> GgmlVocab<'a, S> {
    /// A `gpt2` vocabulary with the default pre-tokenizer and no special tokens.
    pub fn gpt2(tokens: &'a [S], merges: &'a [S]) -> Self {
        Self {
            model: "gpt2",
            pre: None,
            tokens,
            merges,
            token_types: &[],
            bos: None,
            eos: None,
            add_bos: false,
            add_eos: false,
        }
    }
}

pub(super) fn build<S: AsRef<str>>(v: &GgmlVocab<'_, S>) -> Result<Tokenizer, TokenizerError> {
    if v.model != "gpt2" {
        return Err(TokenizerError::UnsupportedModel(v.model.to_owned()));
    }
    if !v.token_types.is_empty() && v.token_types.len() != v.tokens.len() {
        return Err(TokenizerError::TokenTypesLength {
            tokens: v.tokens.len(),
            types: v.token_types.len(),
        });
    }
    let (pre_tokenizer, ignore_merges) = pre_tokenizer(v.pre)?;

    // Some vocabularies repeat a string (e.g. padding); the first id wins, as in llama.cpp.
    let mut vocab = Vocab::with_capacity(v.tokens.len());
    for (id, tok) in v.tokens.iter().enumerate() {
        vocab.entry(tok.as_ref().to_owned()).or_insert(id as u32);
    }
    let merges = v
        .merges
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let m = m.as_ref();
            match m.split_once(' ') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(' ') => {
                    Ok((a.to_owned(), b.to_owned()))
                }
                _ => Err(TokenizerError::BadMerge {
                    index,
                    merge: m.to_owned(),
                }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(ignore_merges)
        .build()
        .map_err(|source| TokenizerError::Build { source })?;

    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre_tokenizer));
    inner.with_decoder(Some(ByteLevelDecoder::default()));
    inner
        .add_special_tokens(added_tokens(v, TOKEN_TYPE_CONTROL, true))
        .map_err(|source| TokenizerError::Build { source })?;
    inner
        .add_tokens(added_tokens(v, TOKEN_TYPE_USER_DEFINED, false))
        .map_err(|source| TokenizerError::Build { source })?;

    let mut tok = Tokenizer::wrap(inner).with_bos_eos(v.bos, v.eos)?;
    tok.add_bos = v.add_bos;
    tok.add_eos = v.add_eos;
    Ok(tok)
}

/// Tokens of type `ty`, plus BOS/EOS as special when the file has no types at all. They already
/// have ids in the BPE vocabulary, so adding them only makes text matching treat them whole.
fn added_tokens<S: AsRef<str>>(v: &GgmlVocab<'_, S>, ty: i32, special: bool) -> Vec<AddedToken> {
    let text = |id: usize| v.tokens.get(id).map(|t| t.as_ref().to_owned());
    let ids: Vec<usize> = if v.token_types.is_empty() {
        if special {
            [v.bos, v.eos]
                .into_iter()
                .flatten()
                .map(|id| id as usize)
                .collect()
        } else {
            Vec::new()
        }
    } else {
        (0..v.tokens.len())
            .filter(|&i| v.token_types[i] == ty)
            .collect()
    };
    ids.into_iter()
        .filter_map(text)
        .map(|t| AddedToken::from(t, special).normalized(false))
        .collect()
}

/// The pre-tokenizer for `tokenizer.ggml.pre`, and whether whole-word vocabulary hits skip merges
/// (llama.cpp does that for llama3).
fn pre_tokenizer(pre: Option<&str>) -> Result<(PreTokenizerWrapper, bool), TokenizerError> {
    let split = |pattern: &str| -> Result<PreTokenizerWrapper, TokenizerError> {
        let split = Split::new(
            SplitPattern::Regex(pattern.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|source| TokenizerError::Build { source })?;
        let bytes = ByteLevel::new(false, true, false);
        Ok(Sequence::new(vec![split.into(), bytes.into()]).into())
    };
    match pre.unwrap_or("default") {
        // ByteLevel with `use_regex` applies the GPT-2 pattern itself.
        "default" | "gpt2" | "gpt-2" => Ok((ByteLevel::new(false, true, true).into(), false)),
        "llama-bpe" | "llama3" => Ok((split(LLAMA3_PATTERN)?, true)),
        "qwen2" => Ok((split(QWEN2_PATTERN)?, false)),
        other => Err(TokenizerError::UnsupportedPreTokenizer(other.to_owned())),
    }
}
