//! `MambaForCausalLM` → GGUF `mamba` (llama.cpp's keys, names and transforms).

use super::ConvertError;
use super::common::{embeddings, output};
use super::plan::Plan;
use super::ssm::{Mamba1Dims, MixerOpts, mamba1_keys, mamba1_mixer};
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

pub const ARCH: &str = "mamba";

/// Fills `plan` from a Mamba-1 checkpoint (`backbone.*` names).
pub fn fill(plan: &mut Plan) -> Result<()> {
    let c = plan.hf().config().clone();
    // transformers MambaConfig defaults; intermediate_size is always expand·hidden there.
    let hidden = c.positive_or("hidden_size", 768)?;
    let layers = c.usize_or("num_hidden_layers", 32)?;
    let vocab = c.positive_or("vocab_size", 50280)?;
    let expand = c.f64_or("expand", 2.0)?;
    let d = Mamba1Dims {
        hidden,
        inner: (expand * hidden as f64) as usize,
        state: c.positive_or("state_size", 16)?,
        dt_rank: c.usize_or_auto("time_step_rank", || hidden.div_ceil(16))?,
        conv_kernel: c.positive_or("conv_kernel", 4)?,
    };
    let eps = c.f64_or("layer_norm_epsilon", 1e-5)?;
    let tied = c.bool_or("tie_word_embeddings", true)?;
    let mixer = MixerOpts {
        proj_bias: c.bool_or("use_bias", false)?,
        dt_bc_norms: false,
    };
    if !c.bool_or("use_conv_bias", true)? {
        return Err(ConvertError::config(
            "use_conv_bias",
            "= false is not supported (llama.cpp needs a conv bias)",
        ));
    }

    // llama.cpp's mamba converter writes these placeholders ("unused, but seemingly required").
    plan.arch_u32("context_length", 1 << 20)?;
    plan.arch_u32("embedding_length", hidden)?;
    plan.arch_u32("feed_forward_length", 0)?;
    plan.arch_u32("attention.head_count", 0)?;
    plan.arch_u32("block_count", layers)?;
    mamba1_keys(plan, d)?;
    plan.arch_f32("attention.layer_norm_rms_epsilon", eps);
    plan.arch_kv("ssm.dt_b_c_rms", MetaValue::Bool(false));
    plan.arch_u32("vocab_size", vocab)?;

    // Original mamba_ssm checkpoints say `embedding`; transformers renames it on load.
    let embed = plan.first_present(&["backbone.embeddings.weight", "backbone.embedding.weight"])?;
    embeddings(plan, embed, vocab, hidden)?;
    for i in 0..layers {
        plan.copy(
            format!("blk.{i}.attn_norm.weight"),
            &format!("backbone.layers.{i}.norm.weight"),
            &[hidden],
        )?;
        mamba1_mixer(plan, i, &format!("backbone.layers.{i}.mixer."), d, mixer)?;
    }
    output(plan, "backbone.norm_f.weight", hidden, vocab, tied)
}
