//! Multi-head causal attention with grouped KV heads (Llama, Jamba; SPEC §3.5), appending to
//! one KV ring per call site.

use super::config::AttnConfig;
use super::weights::{Binder, Mat, Vector};
use crate::error::ModelError;
use crate::program::{AttnShape, ProgramBuilder, Val};

/// One attention layer's weights (`blk.N.attn_*`), optional biases included.
#[derive(Clone, Debug)]
pub struct Attention {
    pub wq: Mat,
    pub wk: Mat,
    pub wv: Mat,
    pub wo: Mat,
    pub bq: Option<Vector>,
    pub bk: Option<Vector>,
    pub bv: Option<Vector>,
    pub bo: Option<Vector>,
    pub kv_heads: usize,
}

pub fn bind(
    b: &mut Binder,
    attn: &AttnConfig,
    n_embd: usize,
    kv_heads: usize,
    blk: &str,
) -> Result<Attention, ModelError> {
    let (q_dim, kv_dim) = (attn.n_head * attn.head_dim, kv_heads * attn.head_dim);
    Ok(Attention {
        wq: b.matrix(&format!("{blk}.attn_q.weight"), q_dim, n_embd)?,
        wk: b.matrix(&format!("{blk}.attn_k.weight"), kv_dim, n_embd)?,
        wv: b.matrix(&format!("{blk}.attn_v.weight"), kv_dim, n_embd)?,
        wo: b.matrix(&format!("{blk}.attn_output.weight"), n_embd, q_dim)?,
        bq: b.opt_vector(&format!("{blk}.attn_q.bias"), &[q_dim])?,
        bk: b.opt_vector(&format!("{blk}.attn_k.bias"), &[kv_dim])?,
        bv: b.opt_vector(&format!("{blk}.attn_v.bias"), &[kv_dim])?,
        bo: b.opt_vector(&format!("{blk}.attn_output.bias"), &[n_embd])?,
        kv_heads,
    })
}

/// Attention of the normalised input `x` `[E]` → `[E]`.
pub fn lower(p: &mut ProgramBuilder, w: &Attention, attn: &AttnConfig, x: Val) -> Val {
    let (heads, kv_heads, hd) = (attn.n_head, w.kv_heads, attn.head_dim);
    let kv = p.kv_ring(kv_heads * hd);

    let mut q = p.linear(&w.wq, w.bq.as_ref(), x); //  [Hq·hd]
    let mut k = p.linear(&w.wk, w.bk.as_ref(), x); //  [Hkv·hd]
    let v = p.linear(&w.wv, w.bv.as_ref(), x); //      [Hkv·hd]
    if let Some(rope) = attn.rope {
        q = p.rope(q, heads, rope.theta, rope.layout);
        k = p.rope(k, kv_heads, rope.theta, rope.layout); // keys are cached after RoPE
    }
    let shape = AttnShape {
        heads,
        kv_heads,
        head_dim: hd,
        scale: attn.scale,
    };
    let a = p.attend(kv, [q, k, v], shape); //         [Hq·hd]
    p.linear(&w.wo, w.bo.as_ref(), a) //               [E]
}
