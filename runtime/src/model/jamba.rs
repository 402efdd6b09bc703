//! Jamba (`jamba`, SPEC §3): Mamba-1 mixers with dt/B/C norms and attention layers without
//! positional encoding; dense SwiGLU or mixture-of-experts FFN in every layer.
//!
//! As in llama.cpp, a layer is attention iff its `attention.head_count_kv` entry is non-zero, and
//! MoE iff `blk.N.ffn_gate_inp` exists.

use super::config::{Arch, AttnConfig, Config, FfnConfig, Meta, ensure};
use super::plan::{Block, Mixer, attn, ssm};
use super::weights::Binder;
use super::{attention, ffn, mamba};
use crate::error::ModelError;

pub fn config(meta: &Meta) -> Result<Config, ModelError> {
    let mut config = meta.base(Arch::Jamba)?;
    config.ssm = Some(meta.ssm()?);
    let n_head = meta.u32("attention.head_count")?;
    ensure(n_head > 0, || "attention.head_count is 0".into())?;
    let n_head_kv = meta.per_layer("attention.head_count_kv", config.n_layer)?;
    ensure(
        n_head_kv.iter().all(|&kv| kv == 0 || n_head % kv == 0),
        || format!("{n_head} heads cannot share KV heads {n_head_kv:?}"),
    )?;
    let head_dim = meta
        .opt_u32("attention.key_length")?
        .unwrap_or(config.n_embd / n_head);
    config.attn = Some(AttnConfig {
        n_head,
        n_head_kv,
        head_dim,
        rope: None, // "No RoPE :)"
        scale: 1.0 / (head_dim as f32).sqrt(),
    });
    let ffn = FfnConfig {
        n_ff: meta.u32("feed_forward_length")?,
        n_expert: meta.opt_u32("expert_count")?.unwrap_or(0),
        n_expert_used: meta.opt_u32("expert_used_count")?.unwrap_or(0),
    };
    ensure(ffn.n_expert_used <= ffn.n_expert, || {
        format!("{} experts used of {}", ffn.n_expert_used, ffn.n_expert)
    })?;
    config.ffn = Some(ffn);
    Ok(config)
}

pub fn blocks(config: &Config, b: &mut Binder) -> Result<Vec<Block>, ModelError> {
    let e = config.n_embd;
    let f = config.ffn.clone().unwrap_or(FfnConfig {
        n_ff: 0,
        n_expert: 0,
        n_expert_used: 0,
    });
    (0..config.n_layer)
        .map(|i| {
            let blk = format!("blk.{i}");
            let kv_heads = attn(config).n_head_kv[i];
            let mixer = if kv_heads == 0 {
                Mixer::Mamba1(mamba::bind(b, ssm(config), e, config.norm_eps, &blk)?)
            } else {
                Mixer::Attention(attention::bind(b, attn(config), e, kv_heads, &blk)?)
            };
            let ffn = if b.has(&format!("{blk}.ffn_gate_inp.weight")) {
                ensure(f.n_expert_used > 0, || {
                    format!("layer {i} is MoE but expert_used_count is 0")
                })?;
                ffn::bind_moe(b, e, f.n_ff, (f.n_expert, f.n_expert_used), &blk)?
            } else {
                ffn::bind_dense(b, e, f.n_ff, &blk)?
            };
            Ok(Block {
                norm: b.vector(&format!("{blk}.attn_norm.weight"), &[e])?,
                mixer,
                ffn: Some((b.vector(&format!("{blk}.ffn_norm.weight"), &[e])?, ffn)),
            })
        })
        .collect()
}
