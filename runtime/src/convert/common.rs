//! Pieces every architecture shares: `general.*` keys, embeddings, final norm and LM head.

use super::ConvertError;
use super::plan::Plan;
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

/// `general.architecture`, `general.type`, `general.name`, `general.file_type` and
/// `general.quantization_version` (ggml's GGML_QNT_VERSION = 2), which llama.cpp's converter
/// writes for every file, quantized or not.
pub fn general_keys(plan: &mut Plan, name: &str) {
    plan.kv(
        "general.architecture",
        MetaValue::String(plan.arch.to_string()),
    );
    plan.kv("general.type", MetaValue::String("model".into()));
    plan.kv("general.name", MetaValue::String(name.to_string()));
}

/// The `general.*` keys llama.cpp writes after the architecture's own keys.
pub fn file_type_keys(plan: &mut Plan) {
    plan.kv("general.file_type", MetaValue::U32(plan.out.file_type()));
    plan.kv("general.quantization_version", MetaValue::U32(2));
}

/// `token_embd.weight` {E, V} from `hf_name` [V, E].
pub fn embeddings(plan: &mut Plan, hf_name: &str, vocab: usize, hidden: usize) -> Result<()> {
    plan.copy("token_embd.weight", hf_name, &[vocab, hidden])
}

/// `output_norm.weight` and, unless the embeddings are tied, `output.weight` from `lm_head.weight`.
/// When tied, HF ignores any `lm_head.weight` in the file, and so do we (llama.cpp reuses
/// `token_embd.weight` when `output.weight` is absent).
pub fn output(plan: &mut Plan, norm: &str, hidden: usize, vocab: usize, tied: bool) -> Result<()> {
    plan.copy("output_norm.weight", norm, &[hidden])?;
    if !tied {
        plan.copy("output.weight", "lm_head.weight", &[vocab, hidden])?;
    }
    Ok(())
}
