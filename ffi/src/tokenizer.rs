//! Finding a model's tokenizer: an explicit `tokenizer.json`, the one embedded in the GGUF file
//! (`tokenizer.huggingface.json`, else the `tokenizer.ggml.*` arrays), or a `tokenizer.json`
//! beside the model file (DESIGN.md §4).

use std::path::Path;

use weft::gguf::Gguf;
use weft::tokenizer::{GgmlVocab, Tokenizer};

use crate::error::{Failure, FfiResult};
use crate::status::weft_status;

/// The tokenizer for the model at `model_path`, or `None` when there is none anywhere.
pub fn load(
    gguf: &Gguf,
    model_path: &Path,
    explicit: Option<&Path>,
) -> FfiResult<Option<Tokenizer>> {
    let bad = |e| {
        Failure::new(
            weft_status::WEFT_ERR_MODEL,
            format!("tokenizer metadata: {e}"),
        )
    };
    let tokens = gguf.opt_str_array("tokenizer.ggml.tokens").map_err(bad)?;
    let merges = gguf.opt_str_array("tokenizer.ggml.merges").map_err(bad)?;
    let token_types = gguf
        .opt_i32_array("tokenizer.ggml.token_type")
        .map_err(bad)?
        .unwrap_or_default();
    let vocab = GgmlVocab {
        model: gguf
            .opt_str("tokenizer.ggml.model")
            .map_err(bad)?
            .unwrap_or("gpt2"),
        pre: gguf.opt_str("tokenizer.ggml.pre").map_err(bad)?,
        tokens: tokens.unwrap_or_default(),
        merges: merges.unwrap_or_default(),
        token_types: &token_types,
        bos: gguf.opt_u32("tokenizer.ggml.bos_token_id").map_err(bad)?,
        eos: gguf.opt_u32("tokenizer.ggml.eos_token_id").map_err(bad)?,
        add_bos: gguf
            .opt_bool("tokenizer.ggml.add_bos_token")
            .map_err(bad)?
            .unwrap_or(false),
        add_eos: gguf
            .opt_bool("tokenizer.ggml.add_eos_token")
            .map_err(bad)?
            .unwrap_or(false),
    };
    let sidecar = model_path.with_file_name("tokenizer.json");
    let file = match explicit {
        Some(path) => Some(path),
        None if gguf.get("tokenizer.huggingface.json").is_some() || tokens.is_some() => None,
        None => sidecar.is_file().then_some(sidecar.as_path()),
    };
    if let Some(path) = file {
        let tok = Tokenizer::from_file(path)?;
        // BOS/EOS ids from the GGUF file when it names them and the tokenizer knows them.
        return Ok(Some(
            tok.clone()
                .with_bos_eos(vocab.bos, vocab.eos)
                .unwrap_or(tok),
        ));
    }
    let hf_json = gguf.opt_str("tokenizer.huggingface.json").map_err(bad)?;
    if hf_json.is_none() && tokens.is_none() {
        return Ok(None);
    }
    Ok(Some(Tokenizer::from_gguf_metadata(hf_json, &vocab)?))
}
