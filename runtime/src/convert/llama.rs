//! `LlamaForCausalLM` → GGUF `llama` (llama.cpp's keys, names and transforms, including the
//! q/k row permutation that makes rotary pairs adjacent for llama.cpp's "normal" RoPE mode).

use super::ConvertError;
use super::common::{embeddings, output};
use super::config::HfConfig;
use super::plan::{Loader, Plan, map};
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

pub const ARCH: &str = "llama";

/// llama.cpp's `LlamaModel.permute`: within each head, rows `[first half | second half]` become
/// interleaved pairs. `rows` = heads·head_dim rows of `cols` values.
pub fn permute_rows(v: &[f32], heads: usize, cols: usize) -> Vec<f32> {
    let rows = v.len() / cols;
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = Vec::with_capacity(v.len());
    for h in 0..heads {
        for i in 0..half {
            for s in 0..2 {
                let src = h * head_dim + s * half + i;
                out.extend_from_slice(&v[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

fn permuted(load: Loader, heads: usize, cols: usize) -> Loader {
    map(load, move |v| permute_rows(&v, heads, cols))
}

/// Fills `plan` from a Llama checkpoint (`model.*` names).
pub fn fill(plan: &mut Plan) -> Result<()> {
    let c = plan.hf().config().clone();
    // transformers LlamaConfig defaults.
    let hidden = c.positive_or("hidden_size", 4096)?;
    let layers = c.usize_or("num_hidden_layers", 32)?;
    let vocab = c.positive_or("vocab_size", 32000)?;
    let ff = c.positive_or("intermediate_size", 11008)?;
    let heads = c.positive_or("num_attention_heads", 32)?;
    let kv_heads = c.positive_or("num_key_value_heads", heads)?;
    let head_dim = c.positive_or("head_dim", hidden / heads)?;
    if heads % kv_heads != 0 || head_dim % 2 != 0 {
        return Err(ConvertError::config(
            "num_key_value_heads",
            format!(
                "({kv_heads}) must divide num_attention_heads ({heads}) and head_dim ({head_dim}) must be even"
            ),
        ));
    }
    let attn_bias = c.bool_or("attention_bias", false)?;
    let mlp_bias = c.bool_or("mlp_bias", false)?;

    plan.arch_u32("block_count", layers)?;
    plan.arch_u32(
        "context_length",
        c.usize_or("max_position_embeddings", 2048)?,
    )?;
    plan.arch_u32("embedding_length", hidden)?;
    plan.arch_u32("feed_forward_length", ff)?;
    plan.arch_u32("attention.head_count", heads)?;
    plan.arch_u32("attention.head_count_kv", kv_heads)?;
    plan.arch_f32("rope.freq_base", c.rope_theta(10000.0)?);
    plan.arch_f32(
        "attention.layer_norm_rms_epsilon",
        c.f64_or("rms_norm_eps", 1e-6)?,
    );
    plan.arch_u32("attention.key_length", head_dim)?;
    plan.arch_u32("attention.value_length", head_dim)?;
    plan.arch_u32("vocab_size", vocab)?;
    plan.arch_u32("rope.dimension_count", head_dim)?;
    rope_scaling(plan, &c, head_dim)?;

    embeddings(plan, "model.embed_tokens.weight", vocab, hidden)?;
    let (q, kv) = (heads * head_dim, kv_heads * head_dim);
    for i in 0..layers {
        let p = format!("model.layers.{i}.");
        let b = |s: &str| format!("blk.{i}.{s}");
        plan.copy(
            b("attn_norm.weight"),
            &format!("{p}input_layernorm.weight"),
            &[hidden],
        )?;
        let wq = plan.source(&format!("{p}self_attn.q_proj.weight"), &[q, hidden])?;
        plan.push(
            b("attn_q.weight"),
            vec![hidden, q],
            permuted(wq, heads, hidden),
        );
        let wk = plan.source(&format!("{p}self_attn.k_proj.weight"), &[kv, hidden])?;
        plan.push(
            b("attn_k.weight"),
            vec![hidden, kv],
            permuted(wk, kv_heads, hidden),
        );
        plan.copy(
            b("attn_v.weight"),
            &format!("{p}self_attn.v_proj.weight"),
            &[kv, hidden],
        )?;
        plan.copy(
            b("attn_output.weight"),
            &format!("{p}self_attn.o_proj.weight"),
            &[hidden, q],
        )?;
        if attn_bias {
            let bq = plan.source(&format!("{p}self_attn.q_proj.bias"), &[q])?;
            plan.push(b("attn_q.bias"), vec![q], permuted(bq, heads, 1));
            let bk = plan.source(&format!("{p}self_attn.k_proj.bias"), &[kv])?;
            plan.push(b("attn_k.bias"), vec![kv], permuted(bk, kv_heads, 1));
            plan.copy(
                b("attn_v.bias"),
                &format!("{p}self_attn.v_proj.bias"),
                &[kv],
            )?;
            plan.copy(
                b("attn_output.bias"),
                &format!("{p}self_attn.o_proj.bias"),
                &[hidden],
            )?;
        }
        plan.copy(
            b("ffn_norm.weight"),
            &format!("{p}post_attention_layernorm.weight"),
            &[hidden],
        )?;
        plan.copy(
            b("ffn_gate.weight"),
            &format!("{p}mlp.gate_proj.weight"),
            &[ff, hidden],
        )?;
        plan.copy(
            b("ffn_up.weight"),
            &format!("{p}mlp.up_proj.weight"),
            &[ff, hidden],
        )?;
        plan.copy(
            b("ffn_down.weight"),
            &format!("{p}mlp.down_proj.weight"),
            &[hidden, ff],
        )?;
        if mlp_bias {
            plan.copy(b("ffn_gate.bias"), &format!("{p}mlp.gate_proj.bias"), &[ff])?;
            plan.copy(b("ffn_up.bias"), &format!("{p}mlp.up_proj.bias"), &[ff])?;
            plan.copy(
                b("ffn_down.bias"),
                &format!("{p}mlp.down_proj.bias"),
                &[hidden],
            )?;
        }
    }
    output(
        plan,
        "model.norm.weight",
        hidden,
        vocab,
        c.bool_or("tie_word_embeddings", false)?,
    )
}

/// RoPE scaling as llama.cpp converts it: `linear` → `rope.scaling.*` keys, `llama3` → a
/// `rope_freqs.weight` tensor of per-frequency divisors; `default` → nothing.
fn rope_scaling(plan: &mut Plan, c: &HfConfig, head_dim: usize) -> Result<()> {
    let Some(params) = c.rope_parameters() else {
        return Ok(());
    };
    let kind = params
        .get("rope_type")
        .or_else(|| params.get("type"))
        .and_then(|v| v.as_str())
        .unwrap_or("default");
    let num = |k: &str, default: f64| params.get(k).and_then(|v| v.as_f64()).unwrap_or(default);
    match kind {
        "default" => Ok(()),
        "linear" => {
            plan.arch_kv("rope.scaling.type", MetaValue::String("linear".into()));
            plan.arch_f32("rope.scaling.factor", num("factor", 1.0));
            Ok(())
        }
        "llama3" => {
            let theta = c.rope_theta(10000.0)?;
            let factors = llama3_rope_factors(
                theta,
                head_dim,
                num("factor", 8.0),
                num("low_freq_factor", 1.0),
                num("high_freq_factor", 4.0),
                num("original_max_position_embeddings", 8192.0),
            );
            let n = factors.len();
            plan.push("rope_freqs.weight", vec![n], Box::new(move || Ok(factors)));
            Ok(())
        }
        other => Err(ConvertError::config(
            "rope_parameters.rope_type",
            format!("{other:?} is not supported (default, linear, llama3)"),
        )),
    }
}

/// Llama-3 frequency divisors, computed as llama.cpp's converter does (f32 base frequencies,
/// f64 arithmetic for the smoothing).
fn llama3_rope_factors(
    theta: f64,
    dim: usize,
    factor: f64,
    low: f64,
    high: f64,
    old_ctx: f64,
) -> Vec<f32> {
    let low_wavelen = old_ctx / low;
    let high_wavelen = old_ctx / high;
    (0..dim)
        .step_by(2)
        .map(|i| {
            let freq = 1.0f32 / (theta as f32).powf(i as f32 / dim as f32);
            let wavelen = 2.0 * std::f64::consts::PI / f64::from(freq);
            let f = if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                factor
            } else {
                let smooth = (old_ctx / wavelen - low) / (high - low);
                1.0 / ((1.0 - smooth) / factor + smooth)
            };
            f as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_interleaves_halves_per_head() {
        // 2 heads × head_dim 4, one column: rows [a0 a1 b0 b1 | c0 c1 d0 d1] → [a0 b0 a1 b1 | ...].
        let v: Vec<f32> = (0..8).map(|x| x as f32).collect();
        assert_eq!(
            permute_rows(&v, 2, 1),
            [0.0, 2.0, 1.0, 3.0, 4.0, 6.0, 5.0, 7.0]
        );
        // Two columns move with their row.
        let v: Vec<f32> = (0..8).map(|x| x as f32).collect();
        assert_eq!(
            permute_rows(&v, 1, 2),
            [0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]
        );
    }

    #[test]
    fn llama3_factors_span_one_to_factor() {
        let f = llama3_rope_factors(500000.0, 64, 8.0, 1.0, 4.0, 8192.0);
        assert_eq!(f.len(), 32);
        assert_eq!(f[0], 1.0);
        assert_eq!(f[31], 8.0);
        assert!(f.windows(2).all(|w| w[0] <= w[1]));
    }
}
