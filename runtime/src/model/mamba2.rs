//! Mamba-2 (`mamba2`, SPEC.md §2): metadata, the mixer's tensors, and its lowering.
//! The mixer is shared with Zamba2's layers.

use super::config::{Arch, Config, Meta, SsmConfig};
use super::weights::{Binder, Mat, Vector};
use crate::error::ModelError;
use crate::program::{ProgramBuilder, Scan, Val};

/// `mamba2.*` keys (llama.cpp's): `ssm.time_step_rank` is the SSM head count.
pub fn config(meta: &Meta) -> Result<Config, ModelError> {
    let mut config = meta.base(Arch::Mamba2)?;
    let mut ssm = meta.ssm2()?;
    ssm.gated_norm_eps = config.norm_eps;
    config.ssm = Some(ssm);
    Ok(config)
}

/// One Mamba-2 mixer's weights (`blk.N.ssm_*`).
#[derive(Clone, Debug)]
pub struct Mamba2Mixer {
    /// `[2I + 2GN + nh, E]`: rows z | xBC | dt.
    pub ssm_in: Mat,
    pub in_bias: Option<Vector>,
    /// Conv taps `{K, I + 2GN}`: one row of K taps per channel.
    pub conv: Vector,
    pub conv_bias: Option<Vector>,
    pub dt_bias: Vector,
    /// `A = -exp(A_log)` per head.
    pub a: Vector,
    pub d: Vector,
    /// Gated-norm weight `{I/G, G}`.
    pub norm: Vector,
    pub ssm_out: Mat,
    pub out_bias: Option<Vector>,
}

pub fn bind(
    b: &mut Binder,
    ssm: &SsmConfig,
    n_embd: usize,
    blk: &str,
) -> Result<Mamba2Mixer, ModelError> {
    let (di, n, g, nh, k) = (
        ssm.d_inner,
        ssm.d_state,
        ssm.n_group,
        ssm.n_head,
        ssm.d_conv,
    );
    let conv_dim = di + 2 * g * n;
    let proj = 2 * di + 2 * g * n + nh;
    Ok(Mamba2Mixer {
        ssm_in: b.matrix(&format!("{blk}.ssm_in.weight"), proj, n_embd)?,
        in_bias: b.opt_vector(&format!("{blk}.ssm_in.bias"), &[proj])?,
        conv: b.vector(&format!("{blk}.ssm_conv1d.weight"), &[k, conv_dim])?,
        conv_bias: b.opt_vector(&format!("{blk}.ssm_conv1d.bias"), &[conv_dim])?,
        dt_bias: b.vector(&format!("{blk}.ssm_dt.bias"), &[nh])?,
        a: b.vector(&format!("{blk}.ssm_a"), &[1, nh])?,
        d: b.vector(&format!("{blk}.ssm_d"), &[1, nh])?,
        norm: b.vector(&format!("{blk}.ssm_norm.weight"), &[di / g, g])?,
        ssm_out: b.matrix(&format!("{blk}.ssm_out.weight"), n_embd, di)?,
        out_bias: b.opt_vector(&format!("{blk}.ssm_out.bias"), &[n_embd])?,
    })
}

/// The mixer applied to the normalised input `x` `[E]` → `[E]` (SPEC §2.5; the prefill runs the
/// same recurrence token by token, §2.6 allows it).
pub fn lower(p: &mut ProgramBuilder, w: &Mamba2Mixer, ssm: &SsmConfig, x: Val) -> Val {
    let (di, gn, nh) = (ssm.d_inner, ssm.n_group * ssm.d_state, ssm.n_head);
    let conv_dim = di + 2 * gn;
    let conv_state = p.recurrent_state(conv_dim * ssm.d_conv); // last K inputs per channel
    let scan_state = p.recurrent_state(di * ssm.d_state); //      [nh, P, N]

    let zxbcdt = p.linear(&w.ssm_in, w.in_bias.as_ref(), x); //       [2I + 2GN + nh]
    let [z, xbc, dt] = p.split(zxbcdt, [di, conv_dim, nh]);
    let xbc = p.conv1d_silu(xbc, w.conv.id, w.conv_bias.map(|b| b.id), conv_state); // [I + 2GN]
    let [x, b, c] = p.split(xbc, [di, gn, gn]);
    let dt = p.softplus(dt, Some(&w.dt_bias), ssm.dt_min); //          [nh]  softplus(dt + dt_bias)
    let scan = Scan {
        x,
        dt,
        b,
        c,
        a: w.a.id,
        d: w.d.id,
        state: scan_state,
    };
    let y = p.ssm_scan2(scan, nh, ssm.n_group); //                     [I]   s·C + D·x per head
    let y = p.gated_rms_norm(y, z, &w.norm, di / ssm.n_group, ssm.gated_norm_eps); // [I]
    p.linear(&w.ssm_out, w.out_bias.as_ref(), y) //                   [E]
}
