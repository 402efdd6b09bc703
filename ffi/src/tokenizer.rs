//! Finding a model's tokenizer: an explicit `tokenizer.json`, the one embedded in the GGUF file
//! (`tokenizer.huggingface.json`, else the `tokenizer.ggml.*` arrays), or a `tokenizer.json`
//! beside the model file (DESIGN.md §4).

use std::path::Path;

use weft::gguf::Gguf;
use weft::model::tokenizer::tokenizer_from_gguf;
use weft::tokenizer::Tokenizer;

use crate::error::FfiResult;

/// The tokenizer for the model at `model_path`, or `None` when there is none anywhere.
pub fn load(
    gguf: &Gguf,
    model_path: &Path,
    explicit: Option<&Path>,
) -> FfiResult<Option<Tokenizer>> {
    let from_file = |path: &Path| -> FfiResult<Option<Tokenizer>> {
        let tok = Tokenizer::from_file(path)?;
        // BOS/EOS from the GGUF file when it names them and the tokenizer knows them.
        let id = |key| gguf.opt_u32(key).ok().flatten();
        let (bos, eos) = (
            id("tokenizer.ggml.bos_token_id"),
            id("tokenizer.ggml.eos_token_id"),
        );
        Ok(Some(tok.clone().with_bos_eos(bos, eos).unwrap_or(tok)))
    };
    if let Some(path) = explicit {
        return from_file(path);
    }
    if let Some(tok) = tokenizer_from_gguf(gguf)? {
        return Ok(Some(tok));
    }
    let sidecar = model_path.with_file_name("tokenizer.json");
    if sidecar.is_file() {
        return from_file(&sidecar);
    }
    Ok(None)
}
