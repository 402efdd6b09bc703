//! Zamba2 (`zamba2`, SPEC §4): Mamba-2 layers, some of which ("hybrid") first call a shared
//! attention + MLP block whose output feeds the layer's Mamba input. Names: docs/gguf.md.

use super::config::{Arch, AttnConfig, Config, FfnConfig, HybridConfig, Meta, RopeConfig, ensure};
use super::mamba2::{self, Mamba2Mixer};
use super::plan::{Block, Mixer, attn, ssm};
use super::weights::{Binder, Mat, Vector};
use crate::error::ModelError;
use crate::program::{AttnShape, ProgramBuilder, RopeLayout, Val};

/// The Mamba gated-norm epsilon is hard-coded in every Zamba2 implementation (SPEC §4.8).
const GATED_NORM_EPS: f32 = 1e-5;

pub fn config(meta: &Meta) -> Result<Config, ModelError> {
    let mut config = meta.base(Arch::Zamba2)?;
    let mut ssm = meta.ssm2()?;
    ssm.gated_norm_eps = GATED_NORM_EPS;
    ssm.dt_min = meta.opt_f32("ssm.time_step_min")?; // applied in prefill and decode (SPEC §4.8)
    config.ssm = Some(ssm);

    let e = config.n_embd;
    let n_head = meta.u32("attention.head_count")?;
    ensure(n_head > 0, || "attention.head_count is 0".into())?;
    let kv = meta.opt_u32("attention.head_count_kv")?.unwrap_or(n_head);
    let head_dim = meta
        .opt_u32("attention.key_length")?
        .unwrap_or(2 * e / n_head);
    ensure(kv > 0 && n_head % kv == 0 && head_dim % 2 == 0, || {
        format!("{n_head} heads, {kv} KV heads, head dim {head_dim}")
    })?;
    let rope = match meta.opt_bool("attention.use_rope")?.unwrap_or(false) {
        true => Some(RopeConfig {
            theta: meta.opt_f32("rope.freq_base")?.unwrap_or(10_000.0),
            layout: RopeLayout::Neox, // full head dim, rotate_half
        }),
        false => None,
    };
    let hybrid = HybridConfig {
        layers: meta.u32_array("hybrid_layers")?,
        block_map: meta.u32_array("shared_block_map")?,
        n_blocks: meta.u32("shared_block_count")?,
        adapter_rank: meta.opt_u32("adapter_rank")?.unwrap_or(0),
        attn_adapter: meta.opt_bool("attention.use_adapter")?.unwrap_or(false),
    };
    ensure(hybrid.block_map.len() == hybrid.layers.len(), || {
        format!(
            "{} hybrid layers but {} block map entries",
            hybrid.layers.len(),
            hybrid.block_map.len()
        )
    })?;
    ensure(
        hybrid.block_map.iter().all(|&b| b < hybrid.n_blocks),
        || {
            format!(
                "shared block map {:?} names a block ≥ {}",
                hybrid.block_map, hybrid.n_blocks
            )
        },
    )?;
    ensure(
        hybrid.layers.windows(2).all(|w| w[0] < w[1])
            && hybrid.layers.iter().all(|&l| l < config.n_layer),
        || {
            format!(
                "hybrid layers {:?} must increase and be < {}",
                hybrid.layers, config.n_layer
            )
        },
    )?;
    let mut n_head_kv = vec![0; config.n_layer];
    for &l in &hybrid.layers {
        n_head_kv[l] = kv;
    }
    config.attn = Some(AttnConfig {
        n_head,
        n_head_kv,
        head_dim,
        rope,
        scale: 1.0 / ((head_dim / 2) as f32).sqrt(), // 1/sqrt(hd/2), SPEC §4.5
    });
    config.ffn = Some(FfnConfig {
        n_ff: meta.u32("feed_forward_length")?,
        n_expert: 0,
        n_expert_used: 0,
    });
    config.hybrid = Some(hybrid);
    Ok(config)
}

/// One shared transformer block (`shared.B.*`), used by several call sites.
#[derive(Clone, Debug)]
pub struct SharedBlock {
    /// `[2E]`
    pub attn_norm: Vector,
    pub wq: Mat,
    pub wk: Mat,
    pub wv: Mat,
    pub wo: Mat,
    pub ffn_norm: Vector,
    /// `[2F, E]`: gate rows first, then up.
    pub gate_up: Mat,
    pub down: Mat,
}

/// A hybrid layer's own weights: call site `site` of shared block `block`.
#[derive(Clone, Debug)]
pub struct HybridLayer {
    pub site: usize,
    pub block: usize,
    /// Per call site `[E, E]`, applied to the shared block's output.
    pub linear: Mat,
    /// LoRA `(A, B)` per call site: `W·u + B·(A·u)`.
    pub lora_q: Option<(Mat, Mat)>,
    pub lora_k: Option<(Mat, Mat)>,
    pub lora_v: Option<(Mat, Mat)>,
    pub lora_gate_up: Option<(Mat, Mat)>,
    pub mamba: Mamba2Mixer,
}

pub fn blocks(
    config: &Config,
    b: &mut Binder,
) -> Result<(Vec<Block>, Vec<SharedBlock>), ModelError> {
    let hybrid = config
        .hybrid
        .as_ref()
        .expect("zamba2 config has hybrid wiring");
    let shared = (0..hybrid.n_blocks)
        .map(|i| bind_shared(b, config, i))
        .collect::<Result<Vec<_>, _>>()?;
    let e = config.n_embd;
    let blocks = (0..config.n_layer)
        .map(|i| {
            let blk = format!("blk.{i}");
            let mamba = mamba2::bind(b, ssm(config), e, &blk)?;
            let mixer = match hybrid.layers.iter().position(|&l| l == i) {
                Some(site) => Mixer::Hybrid(Box::new(bind_hybrid(b, config, site, mamba, &blk)?)),
                None => Mixer::Mamba2(mamba),
            };
            Ok(Block {
                norm: b.vector(&format!("{blk}.attn_norm.weight"), &[e])?,
                mixer,
                ffn: None,
            })
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    Ok((blocks, shared))
}

fn bind_shared(b: &mut Binder, config: &Config, i: usize) -> Result<SharedBlock, ModelError> {
    let (e, a) = (config.n_embd, attn(config));
    let n_ff = config.ffn.as_ref().map_or(0, |f| f.n_ff);
    let kv = a.n_head_kv.iter().copied().max().unwrap_or(0);
    let (q_dim, kv_dim) = (a.n_head * a.head_dim, kv * a.head_dim);
    let s = format!("shared.{i}");
    Ok(SharedBlock {
        attn_norm: b.vector(&format!("{s}.attn_norm.weight"), &[2 * e])?,
        wq: b.matrix(&format!("{s}.attn_q.weight"), q_dim, 2 * e)?,
        wk: b.matrix(&format!("{s}.attn_k.weight"), kv_dim, 2 * e)?,
        wv: b.matrix(&format!("{s}.attn_v.weight"), kv_dim, 2 * e)?,
        wo: b.matrix(&format!("{s}.attn_output.weight"), e, q_dim)?,
        ffn_norm: b.vector(&format!("{s}.ffn_norm.weight"), &[e])?,
        gate_up: b.matrix(&format!("{s}.ffn_gate_up.weight"), 2 * n_ff, e)?,
        down: b.matrix(&format!("{s}.ffn_down.weight"), e, n_ff)?,
    })
}

fn bind_hybrid(
    b: &mut Binder,
    config: &Config,
    site: usize,
    mamba: Mamba2Mixer,
    blk: &str,
) -> Result<HybridLayer, ModelError> {
    let hybrid = config
        .hybrid
        .as_ref()
        .expect("zamba2 config has hybrid wiring");
    let (e, a, r) = (config.n_embd, attn(config), hybrid.adapter_rank);
    let n_ff = config.ffn.as_ref().map_or(0, |f| f.n_ff);
    let (q_dim, kv_dim) = (
        a.n_head * a.head_dim,
        a.n_head_kv[hybrid.layers[site]] * a.head_dim,
    );
    let mut lora = |name: &str, inp: usize, out: usize| -> Result<(Mat, Mat), ModelError> {
        Ok((
            b.matrix(&format!("{blk}.{name}_lora_a.weight"), r, inp)?,
            b.matrix(&format!("{blk}.{name}_lora_b.weight"), out, r)?,
        ))
    };
    let attn_lora = hybrid.attn_adapter && r > 0;
    Ok(HybridLayer {
        site,
        block: hybrid.block_map[site],
        lora_q: if attn_lora {
            Some(lora("attn_q", 2 * e, q_dim)?)
        } else {
            None
        },
        lora_k: if attn_lora {
            Some(lora("attn_k", 2 * e, kv_dim)?)
        } else {
            None
        },
        lora_v: if attn_lora {
            Some(lora("attn_v", 2 * e, kv_dim)?)
        } else {
            None
        },
        lora_gate_up: if r > 0 {
            Some(lora("ffn_gate_up", e, 2 * n_ff)?)
        } else {
            None
        },
        linear: b.matrix(&format!("{blk}.shared_linear.weight"), e, e)?,
        mamba,
    })
}

/// Hybrid layer (SPEC §4.5): the shared block reads `[r | e]`, its output `t` is added to the
/// Mamba layer's input only; the residual is the un-augmented `r`.
pub fn lower_hybrid(
    p: &mut ProgramBuilder,
    config: &Config,
    w: &HybridLayer,
    s: &SharedBlock,
    mamba_norm: &Vector,
    r: Val,
    e: Val,
) -> Val {
    let (a, eps) = (attn(config), config.norm_eps);
    let (heads, kv_heads) = (a.n_head, s.wk.rows / a.head_dim);
    let n_ff = s.down.cols;
    let kv = p.kv_ring(kv_heads * a.head_dim); //                   one ring per call site

    let u = p.concat(r, e); //                                      [2E] hidden first, embedding second
    let u = p.rms_norm(u, Some(&s.attn_norm), eps);
    let mut q = p.matmul_lora(&s.wq, w.lora_q.as_ref(), u); //     [Hq·hd]
    let mut k = p.matmul_lora(&s.wk, w.lora_k.as_ref(), u); //     [Hkv·hd]
    let v = p.matmul_lora(&s.wv, w.lora_v.as_ref(), u);
    if let Some(rope) = a.rope {
        q = p.rope(q, heads, rope.theta, rope.layout); //           full head dim, NeoX layout
        k = p.rope(k, kv_heads, rope.theta, rope.layout);
    }
    let shape = AttnShape {
        heads,
        kv_heads,
        head_dim: a.head_dim,
        scale: a.scale,
    };
    let att = p.attend(kv, [q, k, v], shape); //                    scale 1/sqrt(hd/2)
    let o = p.matmul(&s.wo, att); //                                [E] no residual inside the block
    let g = p.rms_norm(o, Some(&s.ffn_norm), eps);
    let gu = p.matmul_lora(&s.gate_up, w.lora_gate_up.as_ref(), g); // [2F]
    let [gate, up] = p.split(gu, [n_ff, n_ff]);
    let t = p.gelu_mul(gate, up); //                                [F]  gelu(gate) ⊙ up
    let t = p.matmul(&s.down, t); //                                [E]
    let t = p.matmul(&w.linear, t); //                              [E]  per call site
    let x = p.add(r, t); //                                         t feeds the mixer input only
    let x = p.rms_norm(x, Some(mamba_norm), eps);
    let m = mamba2::lower(p, &w.mamba, ssm(config), x);
    p.add(r, m) //                                                  residual is the un-augmented r
}
