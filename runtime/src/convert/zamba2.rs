//! `Zamba2ForCausalLM` → GGUF `zamba2` (weft-defined names; see docs/gguf.md).
//!
//! Shared transformer blocks are written once as `shared.B.*`; everything a call site owns (its
//! Mamba-2 layer, the `linear` projection and its LoRA adapters) lives under `blk.N.*`. The
//! checkpoint keeps block b under the first hybrid layer that uses it, together with the adapter
//! lists of all its call sites; we locate both by searching which layer prefix has the tensors.

use super::ConvertError;
use super::common::{embeddings, output};
use super::config::HfConfig;
use super::plan::{Plan, to_u32};
use super::ssm::{Mamba2Dims, MixerOpts, check_mamba2, mamba2_keys, mamba2_mixer};
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

pub const ARCH: &str = "zamba2";

/// transformers 5.x `Zamba2Config` default layer list (54 layers).
fn default_layer_types() -> Vec<String> {
    let m = "linear_attention";
    let mut t = vec![m];
    for _ in 0..7 {
        t.extend([m; 5]);
        t.push("hybrid");
    }
    t.extend([m; 4]);
    t.push("hybrid");
    t.extend([m; 3]);
    t.push("hybrid");
    t.extend([m; 2]);
    t.into_iter().map(str::to_string).collect()
}

/// Indices of the hybrid layers. Accepts the 4.x spellings ("mamba"/"hybrid") and the 5.x ones
/// ("linear_attention"/"hybrid").
fn hybrid_layers(c: &HfConfig, layers: usize) -> Result<Vec<usize>> {
    let key = "layers_block_type";
    let types = match c.opt_str_list(key)? {
        Some(t) => t,
        None => c
            .opt_str_list("layer_types")?
            .unwrap_or_else(default_layer_types),
    };
    if types.len() != layers {
        return Err(ConvertError::config(
            key,
            format!(
                "has {} entries but num_hidden_layers is {layers}",
                types.len()
            ),
        ));
    }
    let mut hybrid = Vec::new();
    for (i, t) in types.iter().enumerate() {
        match t.as_str() {
            "hybrid" => hybrid.push(i),
            "mamba" | "linear_attention" => {}
            other => {
                return Err(ConvertError::config(
                    key,
                    format!(
                        "entry {i} is {other:?} (expected \"mamba\", \"linear_attention\" or \"hybrid\")"
                    ),
                ));
            }
        }
    }
    if let Some(ids) = c.get("hybrid_layer_ids").and_then(|v| v.as_array()) {
        let ids: Vec<usize> = ids
            .iter()
            .filter_map(|v| v.as_u64())
            .map(|v| v as usize)
            .collect();
        if ids != hybrid {
            return Err(ConvertError::config(
                "hybrid_layer_ids",
                format!("{ids:?} disagrees with layers_block_type (hybrid layers {hybrid:?})"),
            ));
        }
    }
    Ok(hybrid)
}

/// Sizes of the shared attention + MLP block.
#[derive(Clone, Copy)]
struct Shared {
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    ff: usize,
    rank: usize,
    attn_adapters: bool,
}

/// Fills `plan` from a Zamba2 checkpoint (`model.*` names).
pub fn fill(plan: &mut Plan) -> Result<()> {
    let c = plan.hf().config().clone();
    // transformers 5.x Zamba2Config defaults.
    let hidden = c.positive_or("hidden_size", 2560)?;
    let layers = c.usize_or("num_hidden_layers", 54)?;
    let vocab = c.positive_or("vocab_size", 32000)?;
    let heads = c.positive_or("num_attention_heads", 32)?;
    let long_context = c.bool_or("use_long_context", false)?;
    let sh = Shared {
        hidden,
        heads,
        kv_heads: c.positive_or("num_key_value_heads", heads)?,
        // transformers derives the head dim; a stored `attention_head_dim` is overwritten.
        head_dim: 2 * hidden / heads,
        ff: c.positive_or("intermediate_size", 4 * hidden)?,
        rank: c.positive_or("adapter_rank", 128)?,
        attn_adapters: c.bool_or("use_shared_attention_adapter", false)?,
    };
    if (2 * hidden) % heads != 0 {
        return Err(ConvertError::config(
            "num_attention_heads",
            format!("({heads}) must divide 2 × hidden_size"),
        ));
    }
    if sh.attn_adapters && sh.kv_heads != heads {
        return Err(ConvertError::config(
            "num_key_value_heads",
            "must equal num_attention_heads when use_shared_attention_adapter is set",
        ));
    }
    let expand = c.f64_or("mamba_expand", 2.0)?;
    let d = Mamba2Dims {
        hidden,
        inner: (expand * hidden as f64) as usize,
        state: c.positive_or("mamba_d_state", 64)?,
        groups: c.positive_or("mamba_ngroups", 1)?,
        heads: c.positive_or("n_mamba_heads", 8)?,
        conv_kernel: c.positive_or("mamba_d_conv", 4)?,
    };
    check_mamba2(&d, "n_mamba_heads", "mamba_ngroups")?;
    if c.bool_or("add_bias_linear", false)? {
        return Err(ConvertError::config(
            "add_bias_linear",
            "= true is not supported",
        ));
    }
    if !c.bool_or("use_conv_bias", true)? {
        return Err(ConvertError::config(
            "use_conv_bias",
            "= false is not supported",
        ));
    }
    let hybrid = hybrid_layers(&c, layers)?;
    let mem_blocks = c.positive_or("num_mem_blocks", 1)?;
    let block_count = mem_blocks.min(hybrid.len());
    let block_map: Vec<usize> = (0..hybrid.len()).map(|j| j % mem_blocks).collect();
    // transformers 5.x: long context only raises the position limit (theta is left unchanged).
    let ctx = if long_context {
        16384
    } else {
        c.usize_or("max_position_embeddings", 4096)?
    };

    plan.arch_u32("context_length", ctx)?;
    plan.arch_u32("embedding_length", hidden)?;
    plan.arch_u32("block_count", layers)?;
    plan.arch_u32("feed_forward_length", sh.ff)?;
    plan.arch_u32("attention.head_count", heads)?;
    plan.arch_u32("attention.head_count_kv", sh.kv_heads)?;
    plan.arch_u32("attention.key_length", sh.head_dim)?;
    plan.arch_u32("attention.value_length", sh.head_dim)?;
    plan.arch_f32(
        "attention.layer_norm_rms_epsilon",
        c.f64_or("rms_norm_eps", 1e-5)?,
    );
    plan.arch_f32("rope.freq_base", c.rope_theta(10000.0)?);
    plan.arch_kv(
        "attention.use_rope",
        MetaValue::Bool(c.bool_or("use_mem_rope", false)?),
    );
    let u32s = |key: &str, v: &[usize]| {
        v.iter()
            .map(|&x| to_u32(key, x))
            .collect::<Result<Vec<u32>>>()
    };
    plan.arch_kv(
        "hybrid_layers",
        MetaValue::from(u32s("hybrid_layers", &hybrid)?),
    );
    plan.arch_u32("shared_block_count", block_count)?;
    plan.arch_kv(
        "shared_block_map",
        MetaValue::from(u32s("shared_block_map", &block_map)?),
    );
    plan.arch_u32("adapter_rank", sh.rank)?;
    plan.arch_kv("attention.use_adapter", MetaValue::Bool(sh.attn_adapters));
    plan.arch_f32("ssm.time_step_min", c.f64_or("time_step_min", 0.001)?);
    mamba2_keys(plan, d)?;
    plan.arch_u32("vocab_size", vocab)?;

    embeddings(plan, "model.embed_tokens.weight", vocab, hidden)?;
    let holders = (0..block_count)
        .map(|b| block_holder(plan, &hybrid, mem_blocks, b))
        .collect::<Result<Vec<_>>>()?;
    for i in 0..layers {
        let p = format!("model.layers.{i}.");
        match hybrid.iter().position(|&l| l == i) {
            None => {
                plan.copy(
                    format!("blk.{i}.attn_norm.weight"),
                    &format!("{p}input_layernorm.weight"),
                    &[hidden],
                )?;
                mamba2_mixer(plan, i, &format!("{p}mamba."), d, MixerOpts::default())?;
            }
            Some(j) => {
                let dec = format!("{p}mamba_decoder.");
                plan.copy(
                    format!("blk.{i}.attn_norm.weight"),
                    &format!("{dec}input_layernorm.weight"),
                    &[hidden],
                )?;
                mamba2_mixer(plan, i, &format!("{dec}mamba."), d, MixerOpts::default())?;
                plan.copy(
                    format!("blk.{i}.shared_linear.weight"),
                    &format!("{p}linear.weight"),
                    &[hidden, hidden],
                )?;
                adapters(plan, i, j, &holders[block_map[j]], &hybrid, sh)?;
            }
        }
    }
    for (b, holder) in holders.iter().enumerate() {
        shared_block(plan, b, holder, sh)?;
    }
    output(
        plan,
        "model.final_layernorm.weight",
        hidden,
        vocab,
        c.bool_or("tie_word_embeddings", true)?,
    )
}

/// The `model.layers.{L}.shared_transformer.` prefix that holds block `b`: the first hybrid layer
/// using `b` whose checkpoint entry has the block's tensors.
fn block_holder(plan: &Plan, hybrid: &[usize], mem_blocks: usize, b: usize) -> Result<String> {
    let candidates: Vec<String> = hybrid
        .iter()
        .enumerate()
        .filter(|(j, _)| j % mem_blocks == b)
        .map(|(_, l)| format!("model.layers.{l}.shared_transformer."))
        .collect();
    candidates
        .iter()
        .find(|p| plan.hf().has(&format!("{p}input_layernorm.weight")))
        .cloned()
        .ok_or_else(|| ConvertError::MissingTensor {
            name: format!("{}input_layernorm.weight", candidates[0]),
            dir: plan.hf().dir().to_path_buf(),
        })
}

/// Finds adapter `suffix` (e.g. `self_attn.linear_q_adapter_list.3.0.weight`): normally under the
/// block's holder, else under any hybrid layer's shared-transformer prefix.
fn adapter_name(plan: &Plan, holder: &str, hybrid: &[usize], suffix: &str) -> Result<String> {
    let first = format!("{holder}{suffix}");
    if plan.hf().has(&first) {
        return Ok(first);
    }
    hybrid
        .iter()
        .map(|l| format!("model.layers.{l}.shared_transformer.{suffix}"))
        .find(|n| plan.hf().has(n))
        .ok_or(ConvertError::MissingTensor {
            name: first,
            dir: plan.hf().dir().to_path_buf(),
        })
}

/// The LoRA adapters of call site `j` (hybrid layer `i`).
fn adapters(
    plan: &mut Plan,
    i: usize,
    j: usize,
    holder: &str,
    hybrid: &[usize],
    sh: Shared,
) -> Result<()> {
    let (e, r) = (sh.hidden, sh.rank);
    let mut one = |gguf: &str, suffix: String, shape: [usize; 2]| -> Result<()> {
        let name = adapter_name(plan, holder, hybrid, &suffix)?;
        plan.copy(format!("blk.{i}.{gguf}.weight"), &name, &shape)
    };
    if sh.attn_adapters {
        for x in ["q", "k", "v"] {
            let list = format!("self_attn.linear_{x}_adapter_list.{j}");
            // transformers builds every adapter as 2E → r → 2E (= heads·head_dim).
            one(
                &format!("attn_{x}_lora_a"),
                format!("{list}.0.weight"),
                [r, 2 * e],
            )?;
            one(
                &format!("attn_{x}_lora_b"),
                format!("{list}.1.weight"),
                [2 * e, r],
            )?;
        }
    }
    let list = format!("feed_forward.gate_up_proj_adapter_list.{j}");
    one("ffn_gate_up_lora_a", format!("{list}.0.weight"), [r, e])?;
    one(
        "ffn_gate_up_lora_b",
        format!("{list}.1.weight"),
        [2 * sh.ff, r],
    )
}

/// Shared block `b` (attention + MLP) as `shared.{b}.*`.
fn shared_block(plan: &mut Plan, b: usize, s: &str, sh: Shared) -> Result<()> {
    let e = sh.hidden;
    let (q, kv) = (sh.heads * sh.head_dim, sh.kv_heads * sh.head_dim);
    let n = |x: &str| format!("shared.{b}.{x}");
    plan.copy(
        n("attn_norm.weight"),
        &format!("{s}input_layernorm.weight"),
        &[2 * e],
    )?;
    plan.copy(
        n("attn_q.weight"),
        &format!("{s}self_attn.q_proj.weight"),
        &[q, 2 * e],
    )?;
    plan.copy(
        n("attn_k.weight"),
        &format!("{s}self_attn.k_proj.weight"),
        &[kv, 2 * e],
    )?;
    plan.copy(
        n("attn_v.weight"),
        &format!("{s}self_attn.v_proj.weight"),
        &[kv, 2 * e],
    )?;
    plan.copy(
        n("attn_output.weight"),
        &format!("{s}self_attn.o_proj.weight"),
        &[e, q],
    )?;
    plan.copy(
        n("ffn_norm.weight"),
        &format!("{s}pre_ff_layernorm.weight"),
        &[e],
    )?;
    plan.copy(
        n("ffn_gate_up.weight"),
        &format!("{s}feed_forward.gate_up_proj.weight"),
        &[2 * sh.ff, e],
    )?;
    plan.copy(
        n("ffn_down.weight"),
        &format!("{s}feed_forward.down_proj.weight"),
        &[e, sh.ff],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_layer_list_matches_transformers() {
        let t = default_layer_types();
        assert_eq!(t.len(), 54);
        let c = HfConfig::new(json!({})).unwrap();
        assert_eq!(
            hybrid_layers(&c, 54).unwrap(),
            [6, 12, 18, 24, 30, 36, 42, 47, 51],
            "Zamba2-2.7B hybrid layers"
        );
    }

    #[test]
    fn both_spellings_and_bad_entries() {
        let c = HfConfig::new(
            json!({"layers_block_type": ["mamba", "hybrid", "linear_attention", "hybrid"]}),
        )
        .unwrap();
        assert_eq!(hybrid_layers(&c, 4).unwrap(), [1, 3]);
        let c = HfConfig::new(json!({"layers_block_type": ["mamba", "attention"]})).unwrap();
        let err = hybrid_layers(&c, 2).unwrap_err().to_string();
        assert!(
            err.contains("layers_block_type") && err.contains("attention"),
            "{err}"
        );
        let c = HfConfig::new(json!({"layers_block_type": ["hybrid"], "hybrid_layer_ids": [2]}))
            .unwrap();
        assert!(
            hybrid_layers(&c, 1)
                .unwrap_err()
                .to_string()
                .contains("hybrid_layer_ids")
        );
    }
}
