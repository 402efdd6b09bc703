//! Llama (`llama`): attention with RoPE + SwiGLU MLP in every layer. Files use llama.cpp's q/k
//! row permutation, so rotary pairs are adjacent ("normal" mode, GGUF.md).

use super::attention;
use super::config::{Arch, AttnConfig, Config, FfnConfig, Meta, RopeConfig, ensure};
use super::ffn;
use super::plan::{Block, Mixer, attn};
use super::weights::Binder;
use crate::error::ModelError;
use crate::program::RopeLayout;

/// `llama.*` keys: heads, KV heads, head dim (`attention.key_length`, default E/heads),
/// `rope.freq_base` (default 10000), `feed_forward_length`.
pub fn config(meta: &Meta) -> Result<Config, ModelError> {
    let mut config = meta.base(Arch::Llama)?;
    let n_head = meta.u32("attention.head_count")?;
    ensure(n_head > 0, || "attention.head_count is 0".into())?;
    let n_head_kv = meta.opt_u32("attention.head_count_kv")?.unwrap_or(n_head);
    let head_dim = meta
        .opt_u32("attention.key_length")?
        .unwrap_or(config.n_embd / n_head);
    let rot_dim = meta.opt_u32("rope.dimension_count")?.unwrap_or(head_dim);
    ensure(n_head_kv > 0 && n_head % n_head_kv == 0, || {
        format!("{n_head} heads cannot share {n_head_kv} KV heads")
    })?;
    ensure(rot_dim == head_dim && head_dim % 2 == 0, || {
        format!("RoPE over {rot_dim} of {head_dim} head dims is not supported")
    })?;
    // Scaled RoPE (linear / YaRN / Llama-3 frequency factors) would be computed wrong: refuse it.
    let scaling = meta.opt_str("rope.scaling.type")?.unwrap_or("none");
    ensure(
        scaling == "none" && meta.gguf.tensor("rope_freqs.weight").is_none(),
        || format!("RoPE scaling ({scaling}, or rope_freqs.weight) is not supported"),
    )?;
    let theta = meta.opt_f32("rope.freq_base")?.unwrap_or(10_000.0);
    config.attn = Some(AttnConfig {
        n_head,
        n_head_kv: vec![n_head_kv; config.n_layer],
        head_dim,
        rope: Some(RopeConfig {
            theta,
            layout: RopeLayout::Adjacent,
        }),
        scale: 1.0 / (head_dim as f32).sqrt(),
    });
    config.ffn = Some(FfnConfig {
        n_ff: meta.u32("feed_forward_length")?,
        n_expert: 0,
        n_expert_used: 0,
    });
    Ok(config)
}

pub fn blocks(config: &Config, b: &mut Binder) -> Result<Vec<Block>, ModelError> {
    let (e, n_ff) = (config.n_embd, config.ffn.as_ref().map_or(0, |f| f.n_ff));
    (0..config.n_layer)
        .map(|i| {
            let blk = format!("blk.{i}");
            let kv_heads = attn(config).n_head_kv[i];
            Ok(Block {
                norm: b.vector(&format!("{blk}.attn_norm.weight"), &[e])?,
                mixer: Mixer::Attention(attention::bind(b, attn(config), e, kv_heads, &blk)?),
                ffn: Some((
                    b.vector(&format!("{blk}.ffn_norm.weight"), &[e])?,
                    ffn::bind_dense(b, e, n_ff, &blk)?,
                )),
            })
        })
        .collect()
}
