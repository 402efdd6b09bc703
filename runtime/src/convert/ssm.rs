//! The Mamba-1 and Mamba-2 mixers, shared by mamba/jamba and mamba2/zamba2: checkpoint tensors
//! under `prefix` (ending in '.') → `blk.{blk}.ssm_*` with llama.cpp's transforms.

use super::ConvertError;
use super::plan::{Plan, ggml_dims, neg_exp};

type Result<T> = std::result::Result<T, ConvertError>;

/// Mamba-1 sizes: E, Di, N, R, K.
#[derive(Clone, Copy, Debug)]
pub struct Mamba1Dims {
    pub hidden: usize,
    pub inner: usize,
    pub state: usize,
    pub dt_rank: usize,
    pub conv_kernel: usize,
}

/// Mamba-2 sizes: E, Di, N, G, nh, K.
#[derive(Clone, Copy, Debug)]
pub struct Mamba2Dims {
    pub hidden: usize,
    pub inner: usize,
    pub state: usize,
    pub groups: usize,
    pub heads: usize,
    pub conv_kernel: usize,
}

impl Mamba2Dims {
    /// Channels that go through the conv: x, B and C.
    pub fn conv_dim(&self) -> usize {
        self.inner + 2 * self.groups * self.state
    }
}

/// The conv kernel `[C, 1, K]` stored squeezed as GGML `{K, C}`.
fn conv(plan: &mut Plan, blk: usize, prefix: &str, channels: usize, k: usize) -> Result<()> {
    plan.copy_as(
        format!("blk.{blk}.ssm_conv1d.weight"),
        &format!("{prefix}conv1d.weight"),
        &[channels, 1, k],
        vec![k, channels],
    )?;
    plan.copy(
        format!("blk.{blk}.ssm_conv1d.bias"),
        &format!("{prefix}conv1d.bias"),
        &[channels],
    )
}

/// Which optional tensors a mixer has.
#[derive(Clone, Copy, Debug, Default)]
pub struct MixerOpts {
    /// `in_proj`/`out_proj` biases (HF `use_bias` / `mamba_proj_bias`), written as `ssm_in.bias`
    /// and `ssm_out.bias` (llama.cpp's loaders have no slot for them).
    pub proj_bias: bool,
    /// Jamba's dt/B/C RMSNorm weights.
    pub dt_bc_norms: bool,
}

/// `in_proj.bias` / `out_proj.bias` when the checkpoint has them.
fn proj_biases(
    plan: &mut Plan,
    blk: usize,
    prefix: &str,
    proj: usize,
    hidden: usize,
) -> Result<()> {
    plan.copy(
        format!("blk.{blk}.ssm_in.bias"),
        &format!("{prefix}in_proj.bias"),
        &[proj],
    )?;
    plan.copy(
        format!("blk.{blk}.ssm_out.bias"),
        &format!("{prefix}out_proj.bias"),
        &[hidden],
    )
}

/// A Mamba-1 mixer.
pub fn mamba1_mixer(
    plan: &mut Plan,
    blk: usize,
    prefix: &str,
    d: Mamba1Dims,
    o: MixerOpts,
) -> Result<()> {
    let b = |s: &str| format!("blk.{blk}.{s}");
    let p = |s: &str| format!("{prefix}{s}");
    plan.copy(
        b("ssm_in.weight"),
        &p("in_proj.weight"),
        &[2 * d.inner, d.hidden],
    )?;
    if o.proj_bias {
        proj_biases(plan, blk, prefix, 2 * d.inner, d.hidden)?;
    }
    conv(plan, blk, prefix, d.inner, d.conv_kernel)?;
    plan.copy(
        b("ssm_x.weight"),
        &p("x_proj.weight"),
        &[d.dt_rank + 2 * d.state, d.inner],
    )?;
    plan.copy(
        b("ssm_dt.weight"),
        &p("dt_proj.weight"),
        &[d.inner, d.dt_rank],
    )?;
    plan.copy(b("ssm_dt.bias"), &p("dt_proj.bias"), &[d.inner])?;
    if o.dt_bc_norms {
        plan.copy(
            b("ssm_dt_norm.weight"),
            &p("dt_layernorm.weight"),
            &[d.dt_rank],
        )?;
        plan.copy(b("ssm_b_norm.weight"), &p("b_layernorm.weight"), &[d.state])?;
        plan.copy(b("ssm_c_norm.weight"), &p("c_layernorm.weight"), &[d.state])?;
    }
    let a_shape = [d.inner, d.state];
    let a = plan.source(&p("A_log"), &a_shape)?;
    plan.push(b("ssm_a"), ggml_dims(&a_shape), neg_exp(a));
    plan.copy(b("ssm_d"), &p("D"), &[d.inner])?;
    plan.copy(
        b("ssm_out.weight"),
        &p("out_proj.weight"),
        &[d.hidden, d.inner],
    )
}

/// A Mamba-2 mixer: `A`, `D` stored `{1, nh}`, the gated-norm weight `{Di/G, G}`, `dt_bias` as
/// `ssm_dt.bias`.
pub fn mamba2_mixer(
    plan: &mut Plan,
    blk: usize,
    prefix: &str,
    d: Mamba2Dims,
    o: MixerOpts,
) -> Result<()> {
    let b = |s: &str| format!("blk.{blk}.{s}");
    let p = |s: &str| format!("{prefix}{s}");
    let proj = 2 * d.inner + 2 * d.groups * d.state + d.heads;
    plan.copy(b("ssm_in.weight"), &p("in_proj.weight"), &[proj, d.hidden])?;
    if o.proj_bias {
        proj_biases(plan, blk, prefix, proj, d.hidden)?;
    }
    conv(plan, blk, prefix, d.conv_dim(), d.conv_kernel)?;
    plan.copy(b("ssm_dt.bias"), &p("dt_bias"), &[d.heads])?;
    let a = plan.source(&p("A_log"), &[d.heads])?;
    plan.push(b("ssm_a"), vec![1, d.heads], neg_exp(a));
    plan.copy_as(b("ssm_d"), &p("D"), &[d.heads], vec![1, d.heads])?;
    plan.copy_as(
        b("ssm_norm.weight"),
        &p("norm.weight"),
        &[d.inner],
        vec![d.inner / d.groups, d.groups],
    )?;
    plan.copy(
        b("ssm_out.weight"),
        &p("out_proj.weight"),
        &[d.hidden, d.inner],
    )
}

/// Writes the `{arch}.ssm.*` keys of a Mamba-2 style model (time_step_rank = number of heads).
pub fn mamba2_keys(plan: &mut Plan, d: Mamba2Dims) -> Result<()> {
    plan.arch_u32("ssm.conv_kernel", d.conv_kernel)?;
    plan.arch_u32("ssm.inner_size", d.inner)?;
    plan.arch_u32("ssm.state_size", d.state)?;
    plan.arch_u32("ssm.time_step_rank", d.heads)?;
    plan.arch_u32("ssm.group_count", d.groups)
}

/// Writes the `{arch}.ssm.*` keys of a Mamba-1 style model (time_step_rank = dt rank).
pub fn mamba1_keys(plan: &mut Plan, d: Mamba1Dims) -> Result<()> {
    plan.arch_u32("ssm.conv_kernel", d.conv_kernel)?;
    plan.arch_u32("ssm.inner_size", d.inner)?;
    plan.arch_u32("ssm.state_size", d.state)?;
    plan.arch_u32("ssm.time_step_rank", d.dt_rank)
}

/// Checks the Mamba-2 head/group arithmetic, naming the config key at fault.
pub fn check_mamba2(d: &Mamba2Dims, heads_key: &str, groups_key: &str) -> Result<()> {
    if d.heads == 0 || !d.inner.is_multiple_of(d.heads) {
        return Err(ConvertError::config(
            heads_key,
            format!("({}) must divide the SSM inner size {}", d.heads, d.inner),
        ));
    }
    if d.groups == 0 || !d.inner.is_multiple_of(d.groups) || !d.heads.is_multiple_of(d.groups) {
        return Err(ConvertError::config(
            groups_key,
            format!(
                "({}) must divide the inner size {} and the head count {}",
                d.groups, d.inner, d.heads
            ),
        ));
    }
    Ok(())
}
