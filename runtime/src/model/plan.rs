//! The Plan: the model as a stack of blocks (Mixer + optional FFN) with bound weights, and its
//! lowering into a Program.

use super::attention::{self, Attention};
use super::config::{Arch, Config};
use super::ffn::{self, Ffn};
use super::mamba::{self, Mamba1Mixer};
use super::mamba2::{self, Mamba2Mixer};
use super::weights::{Binder, Mat, Vector};
use super::zamba2::{self, HybridLayer, SharedBlock};
use super::{jamba, llama};
use crate::error::ModelError;
use crate::program::{ProgramBuilder, Val};

/// What mixes information across tokens in one layer.
#[derive(Clone, Debug)]
pub enum Mixer {
    Mamba1(Mamba1Mixer),
    Mamba2(Mamba2Mixer),
    Attention(Attention),
    /// Zamba2: a call site of a shared attention+MLP block feeding the layer's Mamba-2 mixer.
    Hybrid(Box<HybridLayer>),
}

/// One layer: `r += Mixer(RMSNorm(r))`, then `r += Ffn(RMSNorm(r))` when it has one.
#[derive(Clone, Debug)]
pub struct Block {
    /// The pre-mixer RMSNorm (`blk.N.attn_norm`).
    pub norm: Vector,
    pub mixer: Mixer,
    /// `blk.N.ffn_norm` and the feed-forward block.
    pub ffn: Option<(Vector, Ffn)>,
}

#[derive(Clone, Debug)]
pub struct Plan {
    /// `[V, E]`, dequantised row by row on lookup; `None` for frame models, which read frames.
    pub token_embd: Option<Mat>,
    /// Frame models: `frame_in` `[E, frame_dim]` and its bias, applied to every input frame.
    pub frame_in: Option<(Mat, Option<Vector>)>,
    pub blocks: Vec<Block>,
    /// Zamba2's shared transformer blocks.
    pub shared: Vec<SharedBlock>,
    pub output_norm: Vector,
    /// `[V, E]` (the embedding matrix when tied), or a regression model's `frame_out`
    /// `[frame_dim, E]`.
    pub output: Mat,
    /// `frame_out.bias` of a regression model.
    pub output_bias: Option<Vector>,
}

impl Plan {
    /// Binds every tensor the architecture needs, checking shapes against `config`.
    pub fn build(config: &Config, b: &mut Binder) -> Result<Plan, ModelError> {
        let (e, v) = (config.n_embd, config.n_vocab);
        let (token_embd, frame_in, output, output_bias) = match &config.frames {
            None => {
                let token_embd = b.matrix("token_embd.weight", v, e)?;
                let output = b.opt_matrix("output.weight", v, e)?.unwrap_or(token_embd); // tied
                (Some(token_embd), None, output, None)
            }
            Some(f) => {
                let frame_in = (
                    b.matrix("frame_in.weight", e, f.dim)?,
                    b.opt_vector("frame_in.bias", &[e])?,
                );
                let (output, bias) = if f.regression {
                    let out = b.matrix("frame_out.weight", f.dim, e)?;
                    (out, b.opt_vector("frame_out.bias", &[f.dim])?)
                } else {
                    let out = match b.opt_matrix("output.weight", v, e)? {
                        Some(out) => out,
                        None => b.matrix("token_embd.weight", v, e)?, // tied
                    };
                    (out, None)
                };
                (None, Some(frame_in), output, bias)
            }
        };
        let output_norm = b.vector("output_norm.weight", &[e])?;
        let (blocks, shared) = match config.arch {
            Arch::Mamba => (mamba_blocks(config, b)?, Vec::new()),
            Arch::Mamba2 => (mamba2_blocks(config, b)?, Vec::new()),
            Arch::Jamba => (jamba::blocks(config, b)?, Vec::new()),
            Arch::Llama => (llama::blocks(config, b)?, Vec::new()),
            Arch::Zamba2 => zamba2::blocks(config, b)?,
        };
        Ok(Plan {
            token_embd,
            frame_in,
            blocks,
            shared,
            output_norm,
            output,
            output_bias,
        })
    }

    /// Lowers the whole stack: input embeddings (or frames) → logits or predicted frames (of
    /// every row if `logits_all`, else of the last row only).
    pub fn lower(&self, config: &Config, p: &mut ProgramBuilder, logits_all: bool) -> Val {
        let eps = config.norm_eps;
        let e = match &self.frame_in {
            None => p.input(), //                                   [E] token embedding or frame
            Some((w, b)) => p.linear(w, b.as_ref(), p.input()), //  [E] = frame_in · frame
        };
        let mut r = e; //                                            residual stream
        for block in &self.blocks {
            r = match &block.mixer {
                Mixer::Hybrid(h) => {
                    zamba2::lower_hybrid(p, config, h, &self.shared[h.block], &block.norm, r, e)
                }
                mixer => {
                    let x = p.rms_norm(r, Some(&block.norm), eps);
                    let out = match mixer {
                        Mixer::Mamba1(m) => mamba::lower(p, m, ssm(config), x),
                        Mixer::Mamba2(m) => mamba2::lower(p, m, ssm(config), x),
                        Mixer::Attention(a) => attention::lower(p, a, attn(config), x),
                        Mixer::Hybrid(_) => unreachable!("handled above"),
                    };
                    p.add(r, out)
                }
            };
            if let Some((norm, f)) = &block.ffn {
                let x = p.rms_norm(r, Some(norm), eps);
                let out = ffn::lower(p, f, x);
                r = p.add(r, out);
            }
        }
        let h = if logits_all { r } else { p.last(r) };
        let h = p.rms_norm(h, Some(&self.output_norm), eps);
        p.linear(&self.output, self.output_bias.as_ref(), h) //       [V] or [frame_dim]
    }
}

/// The SSM section of a config whose architecture has one (checked when the config was read).
pub(crate) fn ssm(config: &Config) -> &super::config::SsmConfig {
    config
        .ssm
        .as_ref()
        .expect("architecture with SSM layers has an SSM config")
}

pub(crate) fn attn(config: &Config) -> &super::config::AttnConfig {
    config
        .attn
        .as_ref()
        .expect("architecture with attention has an attention config")
}

/// `mamba`: every layer a Mamba-1 mixer, no FFN (SPEC §1).
fn mamba_blocks(config: &Config, b: &mut Binder) -> Result<Vec<Block>, ModelError> {
    (0..config.n_layer)
        .map(|i| {
            let blk = format!("blk.{i}");
            Ok(Block {
                norm: b.vector(&format!("{blk}.attn_norm.weight"), &[config.n_embd])?,
                mixer: Mixer::Mamba1(mamba::bind(
                    b,
                    ssm(config),
                    config.n_embd,
                    config.norm_eps,
                    &blk,
                )?),
                ffn: None,
            })
        })
        .collect()
}

/// `mamba2`: every layer a Mamba-2 mixer, no FFN (SPEC §2).
fn mamba2_blocks(config: &Config, b: &mut Binder) -> Result<Vec<Block>, ModelError> {
    (0..config.n_layer)
        .map(|i| {
            let blk = format!("blk.{i}");
            Ok(Block {
                norm: b.vector(&format!("{blk}.attn_norm.weight"), &[config.n_embd])?,
                mixer: Mixer::Mamba2(mamba2::bind(b, ssm(config), config.n_embd, &blk)?),
                ffn: None,
            })
        })
        .collect()
}
