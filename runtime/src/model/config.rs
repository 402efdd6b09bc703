//! Hyper-parameters read from GGUF metadata (docs/gguf.md), validated once at load.
//!
//! Each architecture file reads its own keys (`mamba::config`, …); this file holds the shared
//! shape of the result and a typed view of the metadata.

use crate::error::ModelError;
use crate::gguf::Gguf;
use crate::program::RopeLayout;

/// The architectures weft runs (`general.architecture`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    Mamba,
    Mamba2,
    Jamba,
    Zamba2,
    Llama,
}

impl Arch {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "mamba" => Arch::Mamba,
            "mamba2" => Arch::Mamba2,
            "jamba" => Arch::Jamba,
            "zamba2" => Arch::Zamba2,
            "llama" => Arch::Llama,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Mamba => "mamba",
            Arch::Mamba2 => "mamba2",
            Arch::Jamba => "jamba",
            Arch::Zamba2 => "zamba2",
            Arch::Llama => "llama",
        }
    }
}

/// Everything the Plan needs to know about a model's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub arch: Arch,
    /// Model width E.
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_vocab: usize,
    /// Trained context length, when the file states a meaningful one.
    pub n_ctx: Option<usize>,
    /// Epsilon of the block RMSNorms.
    pub norm_eps: f32,
    pub ssm: Option<SsmConfig>,
    pub attn: Option<AttnConfig>,
    pub ffn: Option<FfnConfig>,
    pub hybrid: Option<HybridConfig>,
    /// Frame input (and regression output) of sensor models; `None` for language models.
    pub frames: Option<FrameConfig>,
}

impl Config {
    /// Floats per input row: a frame (`frame_dim`) for models with `frame_in`, else a token
    /// embedding or an embedding-sized frame (`n_embd`).
    pub fn input_width(&self) -> usize {
        self.frames.as_ref().map_or(self.n_embd, |f| f.dim)
    }

    /// Floats per output row: the predicted frame of a regression model, else the logits.
    pub fn output_width(&self) -> usize {
        match &self.frames {
            Some(f) if f.regression => f.dim,
            _ => self.n_vocab,
        }
    }
}

/// A model that reads frames through an input projection (docs/gguf.md, "Frame models").
#[derive(Clone, Debug, PartialEq)]
pub struct FrameConfig {
    /// `{arch}.frame_dim`: floats per frame; `frame_in` projects a frame to the model width.
    pub dim: usize,
    /// `{arch}.output_kind = "regression"`: the head `frame_out` outputs `dim` floats (the
    /// prediction of the next frame) instead of vocabulary logits.
    pub regression: bool,
}

/// The SSM mixer's shape (Mamba-1 uses `dt_rank`; Mamba-2 uses `n_head`, `n_group`).
#[derive(Clone, Debug, PartialEq)]
pub struct SsmConfig {
    pub d_conv: usize,
    pub d_inner: usize,
    pub d_state: usize,
    pub dt_rank: usize,
    pub n_head: usize,
    pub n_group: usize,
    /// Lower clamp of dt after softplus (Zamba2 `time_step_min`).
    pub dt_min: Option<f32>,
    /// Epsilon of the Mamba-2 gated norm.
    pub gated_norm_eps: f32,
    /// Falcon-Mamba (`ssm.dt_b_c_rms`): weightless RMSNorm on dt, B and C.
    pub dt_bc_rms: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttnConfig {
    pub n_head: usize,
    /// KV heads per layer; 0 marks a layer without attention (Jamba's encoding).
    pub n_head_kv: Vec<usize>,
    pub head_dim: usize,
    pub rope: Option<RopeConfig>,
    /// Multiplies q·k before the softmax.
    pub scale: f32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeConfig {
    pub theta: f32,
    pub layout: RopeLayout,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FfnConfig {
    pub n_ff: usize,
    pub n_expert: usize,
    pub n_expert_used: usize,
}

/// Zamba2's shared-block wiring.
#[derive(Clone, Debug, PartialEq)]
pub struct HybridConfig {
    /// Layer index of each call site j.
    pub layers: Vec<usize>,
    /// Shared block used by each call site j.
    pub block_map: Vec<usize>,
    pub n_blocks: usize,
    pub adapter_rank: usize,
    pub attn_adapter: bool,
}

/// Typed access to `{arch}.*` metadata with weft's error messages.
pub struct Meta<'a> {
    pub gguf: &'a Gguf,
    pub arch: &'static str,
}

impl Meta<'_> {
    fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.arch)
    }

    pub fn u32(&self, k: &str) -> Result<usize, ModelError> {
        self.opt_u32(k)?
            .ok_or_else(|| ModelError::MissingKey(self.key(k)))
    }

    pub fn opt_u32(&self, k: &str) -> Result<Option<usize>, ModelError> {
        Ok(self.gguf.opt_u32(&self.key(k))?.map(|v| v as usize))
    }

    pub fn f32(&self, k: &str) -> Result<f32, ModelError> {
        self.opt_f32(k)?
            .ok_or_else(|| ModelError::MissingKey(self.key(k)))
    }

    pub fn opt_f32(&self, k: &str) -> Result<Option<f32>, ModelError> {
        Ok(self.gguf.opt_f32(&self.key(k))?)
    }

    pub fn opt_bool(&self, k: &str) -> Result<Option<bool>, ModelError> {
        Ok(self.gguf.opt_bool(&self.key(k))?)
    }

    pub fn opt_str(&self, k: &str) -> Result<Option<&str>, ModelError> {
        Ok(self.gguf.opt_str(&self.key(k))?)
    }

    pub fn u32_array(&self, k: &str) -> Result<Vec<usize>, ModelError> {
        let key = self.key(k);
        if self.gguf.opt_u32_array(&key)?.is_none() {
            return Err(ModelError::MissingKey(key));
        }
        Ok(self
            .gguf
            .get_u32_array(&key)?
            .iter()
            .map(|&v| v as usize)
            .collect())
    }

    /// A key llama.cpp allows as a scalar or a per-layer array, expanded to `n_layer` values.
    pub fn per_layer(&self, k: &str, n_layer: usize) -> Result<Vec<usize>, ModelError> {
        let key = self.key(k);
        if let Some(v) = self.gguf.opt_u32(&key).ok().flatten() {
            return Ok(vec![v as usize; n_layer]);
        }
        let values = self.u32_array(k)?;
        if values.len() != n_layer {
            return Err(ModelError::BadKey {
                key,
                reason: format!(
                    "has {} entries, expected one per layer ({n_layer})",
                    values.len()
                ),
            });
        }
        Ok(values)
    }

    /// `{arch}.frame_dim` and `{arch}.output_kind` (absent for language models).
    pub fn frames(&self) -> Result<Option<FrameConfig>, ModelError> {
        let regression = match self.opt_str("output_kind")? {
            None | Some("logits") => false,
            Some("regression") => true,
            Some(other) => {
                return Err(ModelError::BadKey {
                    key: self.key("output_kind"),
                    reason: format!("{other:?} is not \"logits\" or \"regression\""),
                });
            }
        };
        match self.opt_u32("frame_dim")? {
            Some(0) => Err(ModelError::BadKey {
                key: self.key("frame_dim"),
                reason: "must be at least 1".into(),
            }),
            Some(dim) => Ok(Some(FrameConfig { dim, regression })),
            None if regression => Err(ModelError::MissingKey(self.key("frame_dim"))),
            None => Ok(None),
        }
    }

    /// The common keys every architecture has.
    pub fn base(&self, arch: Arch) -> Result<Config, ModelError> {
        let n_embd = self.u32("embedding_length")?;
        let n_layer = self.u32("block_count")?;
        let frames = self.frames()?;
        let regression = frames.as_ref().is_some_and(|f| f.regression);
        let n_vocab = match self.opt_u32("vocab_size")? {
            Some(v) => v,
            // A regression model needs no vocabulary.
            None if regression && self.gguf.tensor("token_embd.weight").is_none() => 0,
            None => {
                let embd = self
                    .gguf
                    .tensor("token_embd.weight")
                    .ok_or_else(|| ModelError::MissingTensor("token_embd.weight".into()))?;
                embd.dims.get(1).copied().unwrap_or(0) as usize
            }
        };
        let config = Config {
            arch,
            n_embd,
            n_layer,
            n_vocab,
            n_ctx: self.opt_u32("context_length")?.filter(|&c| c > 0),
            norm_eps: self.f32("attention.layer_norm_rms_epsilon")?,
            ssm: None,
            attn: None,
            ffn: None,
            hybrid: None,
            frames,
        };
        ensure(
            n_embd > 0 && n_layer > 0 && (n_vocab > 0 || regression),
            || {
                format!(
                    "embedding {n_embd}, layers {n_layer}, vocabulary {n_vocab} must all be non-zero"
                )
            },
        )?;
        Ok(config)
    }

    /// Mamba SSM keys shared by Mamba-1, Mamba-2, Jamba and Zamba2.
    pub fn ssm(&self) -> Result<SsmConfig, ModelError> {
        let ssm = SsmConfig {
            d_conv: self.u32("ssm.conv_kernel")?,
            d_inner: self.u32("ssm.inner_size")?,
            d_state: self.u32("ssm.state_size")?,
            dt_rank: self.u32("ssm.time_step_rank")?,
            n_head: 0,
            n_group: 0,
            dt_min: None,
            gated_norm_eps: 0.0,
            dt_bc_rms: false,
        };
        ensure(
            ssm.d_conv > 0 && ssm.d_inner > 0 && ssm.d_state > 0 && ssm.dt_rank > 0,
            || format!("SSM sizes must be non-zero: {ssm:?}"),
        )?;
        Ok(ssm)
    }

    /// Mamba-2 reading of the SSM keys: `time_step_rank` is the head count; groups required.
    pub fn ssm2(&self) -> Result<SsmConfig, ModelError> {
        let mut ssm = self.ssm()?;
        ssm.n_head = ssm.dt_rank;
        ssm.n_group = self.u32("ssm.group_count")?;
        ensure(ssm.n_group > 0 && ssm.d_inner % ssm.n_head == 0, || {
            format!(
                "inner size {} must split into {} heads",
                ssm.d_inner, ssm.n_head
            )
        })?;
        ensure(
            ssm.n_head % ssm.n_group == 0 && ssm.d_inner % ssm.n_group == 0,
            || {
                format!(
                    "{} heads / inner {} must split into {} groups",
                    ssm.n_head, ssm.d_inner, ssm.n_group
                )
            },
        )?;
        Ok(ssm)
    }
}

/// `Ok` if `cond`, else `InvalidConfig` with the message.
pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> Result<(), ModelError> {
    if cond {
        Ok(())
    } else {
        Err(ModelError::InvalidConfig(msg()))
    }
}
