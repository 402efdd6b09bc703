//! Mamba-1 (`mamba`, SPEC.md §1): metadata, the mixer's tensors, and its lowering.
//! Jamba's Mamba layers are this mixer plus RMSNorms on dt, B and C (SPEC §3.4).

use super::config::{Arch, Config, Meta, SsmConfig};
use super::weights::{Binder, Mat, Vector};
use crate::error::ModelError;
use crate::program::{ProgramBuilder, Scan, Val};

/// `mamba.*` keys (llama.cpp's): `ssm.time_step_rank` is the dt rank R.
pub fn config(meta: &Meta) -> Result<Config, ModelError> {
    let mut config = meta.base(Arch::Mamba)?;
    let mut ssm = meta.ssm()?;
    ssm.dt_bc_rms = meta.opt_bool("ssm.dt_b_c_rms")?.unwrap_or(false);
    config.ssm = Some(ssm);
    Ok(config)
}

/// One Mamba-1 mixer's weights (`blk.N.ssm_*`).
#[derive(Clone, Debug)]
pub struct Mamba1Mixer {
    /// `[2I, E]`: rows x | z (+ bias when `use_bias`).
    pub ssm_in: Mat,
    pub in_bias: Option<Vector>,
    /// Conv taps `{K, I}`.
    pub conv: Vector,
    pub conv_bias: Option<Vector>,
    /// `[R + 2N, I]`: rows dt | B | C.
    pub ssm_x: Mat,
    /// `[I, R]` and its bias (added before the softplus).
    pub ssm_dt: Mat,
    pub dt_bias: Vector,
    /// `A = -exp(A_log)` `{N, I}`.
    pub a: Vector,
    pub d: Vector,
    pub ssm_out: Mat,
    pub out_bias: Option<Vector>,
    /// RMSNorms on dt, B and C after `ssm_x` (Jamba, Falcon-Mamba).
    pub dt_bc_norm: Option<DtBcNorm>,
}

/// Jamba's dt/B/C norms carry weights (`[R]`, `[N]`, `[N]`); Falcon-Mamba's have none.
#[derive(Clone, Debug)]
pub struct DtBcNorm {
    pub weights: Option<[Vector; 3]>,
    pub eps: f32,
}

/// `norm_eps` is the epsilon of the dt/B/C norms (Jamba, Falcon-Mamba; unused without them).
pub fn bind(
    b: &mut Binder,
    ssm: &SsmConfig,
    n_embd: usize,
    norm_eps: f32,
    blk: &str,
) -> Result<Mamba1Mixer, ModelError> {
    let (di, n, r, k) = (ssm.d_inner, ssm.d_state, ssm.dt_rank, ssm.d_conv);
    let weights = if b.has(&format!("{blk}.ssm_dt_norm.weight")) {
        Some([
            b.vector(&format!("{blk}.ssm_dt_norm.weight"), &[r])?,
            b.vector(&format!("{blk}.ssm_b_norm.weight"), &[n])?,
            b.vector(&format!("{blk}.ssm_c_norm.weight"), &[n])?,
        ])
    } else {
        None
    };
    let dt_bc_norm = (weights.is_some() || ssm.dt_bc_rms).then_some(DtBcNorm {
        weights,
        eps: norm_eps,
    });
    Ok(Mamba1Mixer {
        ssm_in: b.matrix(&format!("{blk}.ssm_in.weight"), 2 * di, n_embd)?,
        in_bias: b.opt_vector(&format!("{blk}.ssm_in.bias"), &[2 * di])?,
        conv: b.vector(&format!("{blk}.ssm_conv1d.weight"), &[k, di])?,
        conv_bias: b.opt_vector(&format!("{blk}.ssm_conv1d.bias"), &[di])?,
        ssm_x: b.matrix(&format!("{blk}.ssm_x.weight"), r + 2 * n, di)?,
        ssm_dt: b.matrix(&format!("{blk}.ssm_dt.weight"), di, r)?,
        dt_bias: b.vector(&format!("{blk}.ssm_dt.bias"), &[di])?,
        a: b.vector(&format!("{blk}.ssm_a"), &[n, di])?,
        d: b.vector(&format!("{blk}.ssm_d"), &[di])?,
        ssm_out: b.matrix(&format!("{blk}.ssm_out.weight"), n_embd, di)?,
        out_bias: b.opt_vector(&format!("{blk}.ssm_out.bias"), &[n_embd])?,
        dt_bc_norm,
    })
}

/// The mixer applied to the normalised input `x` `[E]` → `[E]` (SPEC §1.4 steps 2-11).
pub fn lower(p: &mut ProgramBuilder, w: &Mamba1Mixer, ssm: &SsmConfig, x: Val) -> Val {
    let (di, n, r) = (ssm.d_inner, ssm.d_state, ssm.dt_rank);
    let conv_state = p.recurrent_state(di * ssm.d_conv); // last K inputs per channel
    let scan_state = p.recurrent_state(di * n); //         h [I, N]

    let xz = p.linear(&w.ssm_in, w.in_bias.as_ref(), x); //              [2I]
    let [x, z] = p.split(xz, [di, di]);
    let xc = p.conv1d_silu(x, w.conv.id, w.conv_bias.map(|b| b.id), conv_state); // [I]
    let dbc = p.matmul(&w.ssm_x, xc); //                                 [R + 2N]
    let [mut dt_low, mut b, mut c] = p.split(dbc, [r, n, n]);
    if let Some(norm) = &w.dt_bc_norm {
        let [dt_w, b_w, c_w] = norm
            .weights
            .as_ref()
            .map(|[d, b, c]| [Some(d), Some(b), Some(c)])
            .unwrap_or_default();
        dt_low = p.rms_norm(dt_low, dt_w, norm.eps); //              Jamba §3.4 step 4
        b = p.rms_norm(b, b_w, norm.eps);
        c = p.rms_norm(c, c_w, norm.eps);
    }
    let dt = p.matmul(&w.ssm_dt, dt_low); //                             [I]
    let dt = p.softplus(dt, Some(&w.dt_bias), None); //                  softplus(W·dt + bias)
    let scan = Scan {
        x: xc,
        dt,
        b,
        c,
        a: w.a.id,
        d: w.d.id,
        state: scan_state,
    };
    let y = p.ssm_scan1(scan); //                                        [I]  h·C + D·xc
    let y = p.silu_mul(z, y); //                                         y ⊙ silu(z)
    p.linear(&w.ssm_out, w.out_bias.as_ref(), y) //                      [E]
}
