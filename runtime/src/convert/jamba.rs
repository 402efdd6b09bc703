//! `JambaForCausalLM` → GGUF `jamba` (llama.cpp's keys, names and transforms).
//!
//! The layer pattern is carried by the per-layer `jamba.attention.head_count_kv` array (0 ⇒ Mamba
//! layer); MoE layers are recognised by the presence of `blk.N.ffn_gate_inp.weight`. Experts are
//! stacked into 3-D `ffn_{gate,up,down}_exps` tensors.

use super::ConvertError;
use super::common::{embeddings, output};
use super::plan::{Loader, Plan, rows};
use super::ssm::{Mamba1Dims, MixerOpts, mamba1_keys, mamba1_mixer};
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

pub const ARCH: &str = "jamba";

/// The per-layer pattern transformers derives from the periods and offsets.
#[derive(Clone, Copy, Debug)]
struct Pattern {
    attn_period: usize,
    attn_offset: usize,
    expert_period: usize,
    expert_offset: usize,
    experts: usize,
}

impl Pattern {
    fn is_attention(&self, i: usize) -> bool {
        i % self.attn_period == self.attn_offset
    }

    /// transformers builds a sparse MoE block only when the layer has more than one expert.
    fn is_moe(&self, i: usize) -> bool {
        self.experts > 1 && i % self.expert_period == self.expert_offset
    }
}

/// Fills `plan` from a Jamba checkpoint (`model.*` names).
pub fn fill(plan: &mut Plan) -> Result<()> {
    let c = plan.hf().config().clone();
    // transformers JambaConfig defaults.
    let hidden = c.positive_or("hidden_size", 4096)?;
    let layers = c.usize_or("num_hidden_layers", 32)?;
    let vocab = c.positive_or("vocab_size", 65536)?;
    let ff = c.positive_or("intermediate_size", 14336)?;
    let heads = c.positive_or("num_attention_heads", 32)?;
    let kv_heads = c.positive_or("num_key_value_heads", 8)?;
    let expand = c.f64_or("mamba_expand", 2.0)?;
    let d = Mamba1Dims {
        hidden,
        inner: (expand * hidden as f64) as usize,
        state: c.positive_or("mamba_d_state", 16)?,
        dt_rank: c.usize_or_auto("mamba_dt_rank", || hidden.div_ceil(16))?,
        conv_kernel: c.positive_or("mamba_d_conv", 4)?,
    };
    let pat = Pattern {
        attn_period: c.positive_or("attn_layer_period", 8)?,
        attn_offset: c.usize_or("attn_layer_offset", 4)?,
        expert_period: c.positive_or("expert_layer_period", 2)?,
        expert_offset: c.usize_or("expert_layer_offset", 1)?,
        experts: c.positive_or("num_experts", 16)?,
    };
    if pat.attn_offset >= pat.attn_period {
        return Err(ConvertError::config(
            "attn_layer_offset",
            "must be smaller than attn_layer_period",
        ));
    }
    if pat.expert_offset >= pat.expert_period {
        return Err(ConvertError::config(
            "expert_layer_offset",
            "must be smaller than expert_layer_period",
        ));
    }
    let used = c.positive_or("num_experts_per_tok", 2)?;
    if hidden % heads != 0 || heads % kv_heads != 0 {
        return Err(ConvertError::config(
            "num_attention_heads",
            format!(
                "({heads}) must divide hidden_size ({hidden}) and be a multiple of num_key_value_heads ({kv_heads})"
            ),
        ));
    }
    let head_dim = hidden / heads;
    let mixer = MixerOpts {
        proj_bias: c.bool_or("mamba_proj_bias", false)?,
        dt_bc_norms: true,
    };
    if !c.bool_or("mamba_conv_bias", true)? {
        return Err(ConvertError::config(
            "mamba_conv_bias",
            "= false is not supported (llama.cpp needs a conv bias)",
        ));
    }

    plan.arch_u32("block_count", layers)?;
    plan.arch_u32(
        "context_length",
        c.usize_or("max_position_embeddings", 262144)?,
    )?;
    plan.arch_u32("embedding_length", hidden)?;
    plan.arch_u32("feed_forward_length", ff)?;
    plan.arch_u32("attention.head_count", heads)?;
    // gguf-py writes a list of Python ints as an INT32 array.
    let kv_per_layer: Vec<i32> = (0..layers)
        .map(|i| {
            if pat.is_attention(i) {
                kv_heads as i32
            } else {
                0
            }
        })
        .collect();
    plan.arch_kv("attention.head_count_kv", MetaValue::from(kv_per_layer));
    mamba1_keys(plan, d)?;
    plan.arch_f32(
        "attention.layer_norm_rms_epsilon",
        c.f64_or("rms_norm_eps", 1e-6)?,
    );
    plan.arch_u32("expert_count", pat.experts)?;
    plan.arch_u32("expert_used_count", used)?;
    plan.arch_u32("vocab_size", vocab)?;

    embeddings(plan, "model.embed_tokens.weight", vocab, hidden)?;
    for i in 0..layers {
        let p = format!("model.layers.{i}.");
        plan.copy(
            format!("blk.{i}.attn_norm.weight"),
            &format!("{p}input_layernorm.weight"),
            &[hidden],
        )?;
        if pat.is_attention(i) {
            let (q, kv) = (heads * head_dim, kv_heads * head_dim);
            // Jamba has no RoPE, so q/k are not permuted.
            plan.copy(
                format!("blk.{i}.attn_q.weight"),
                &format!("{p}self_attn.q_proj.weight"),
                &[q, hidden],
            )?;
            plan.copy(
                format!("blk.{i}.attn_k.weight"),
                &format!("{p}self_attn.k_proj.weight"),
                &[kv, hidden],
            )?;
            plan.copy(
                format!("blk.{i}.attn_v.weight"),
                &format!("{p}self_attn.v_proj.weight"),
                &[kv, hidden],
            )?;
            plan.copy(
                format!("blk.{i}.attn_output.weight"),
                &format!("{p}self_attn.o_proj.weight"),
                &[hidden, q],
            )?;
        } else {
            mamba1_mixer(plan, i, &format!("{p}mamba."), d, mixer)?;
        }
        plan.copy(
            format!("blk.{i}.ffn_norm.weight"),
            &format!("{p}pre_ff_layernorm.weight"),
            &[hidden],
        )?;
        if pat.is_moe(i) {
            moe(plan, i, &p, hidden, ff, pat.experts)?;
        } else {
            dense(plan, i, &p, hidden, ff)?;
        }
    }
    output(
        plan,
        "model.final_layernorm.weight",
        hidden,
        vocab,
        c.bool_or("tie_word_embeddings", false)?,
    )
}

/// A dense SwiGLU MLP. Some checkpoints store it as a single expert (`experts.0.`), which
/// llama.cpp's converter also accepts.
fn dense(plan: &mut Plan, i: usize, p: &str, hidden: usize, ff: usize) -> Result<()> {
    for (gguf, hf, shape) in [
        ("ffn_gate", "gate_proj", [ff, hidden]),
        ("ffn_up", "up_proj", [ff, hidden]),
        ("ffn_down", "down_proj", [hidden, ff]),
    ] {
        let plain = format!("{p}feed_forward.{hf}.weight");
        let single = format!("{p}feed_forward.experts.0.{hf}.weight");
        let src = plan.first_present(&[&plain, &single])?.to_string();
        plan.copy(format!("blk.{i}.{gguf}.weight"), &src, &shape)?;
    }
    Ok(())
}

/// Router plus experts stacked as GGML `{E, F, n_exp}` / `{F, E, n_exp}`. Reads transformers 4.x
/// per-expert names (what checkpoints on disk use) or 5.x fused `gate_up_proj`/`down_proj`.
fn moe(plan: &mut Plan, i: usize, p: &str, hidden: usize, ff: usize, experts: usize) -> Result<()> {
    plan.copy(
        format!("blk.{i}.ffn_gate_inp.weight"),
        &format!("{p}feed_forward.router.weight"),
        &[experts, hidden],
    )?;
    let fused_gate_up = format!("{p}feed_forward.experts.gate_up_proj");
    let (gate, up, down): (Vec<Loader>, Vec<Loader>, Vec<Loader>) = if plan.hf().has(&fused_gate_up)
    {
        let shape = [experts, 2 * ff, hidden];
        // First half of the fused rows is the gate (transformers: `.chunk(2, dim=-1)`).
        let gate = rows(
            plan.source(&fused_gate_up, &shape)?,
            experts,
            2 * ff,
            hidden,
            0,
            ff,
        );
        let up = rows(
            plan.source(&fused_gate_up, &shape)?,
            experts,
            2 * ff,
            hidden,
            ff,
            ff,
        );
        let down = plan.source(
            &format!("{p}feed_forward.experts.down_proj"),
            &[experts, hidden, ff],
        )?;
        (vec![gate], vec![up], vec![down])
    } else {
        // One part per expert: only one expert's f32 values are in memory at a time.
        let per_expert = |proj: &str, shape: [usize; 2]| -> Result<Vec<Loader>> {
            (0..experts)
                .map(|e| {
                    plan.source(
                        &format!("{p}feed_forward.experts.{e}.{proj}.weight"),
                        &shape,
                    )
                })
                .collect()
        };
        (
            per_expert("gate_proj", [ff, hidden])?,
            per_expert("up_proj", [ff, hidden])?,
            per_expert("down_proj", [hidden, ff])?,
        )
    };
    plan.push_parts(
        format!("blk.{i}.ffn_gate_exps.weight"),
        vec![hidden, ff, experts],
        gate,
    );
    plan.push_parts(
        format!("blk.{i}.ffn_up_exps.weight"),
        vec![hidden, ff, experts],
        up,
    );
    plan.push_parts(
        format!("blk.{i}.ffn_down_exps.weight"),
        vec![ff, hidden, experts],
        down,
    );
    Ok(())
}
