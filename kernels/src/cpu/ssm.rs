//! One decode step of the selective-scan recurrence: Mamba-1 (SPEC.md §1.4 steps 8–9) and
//! Mamba-2 (SPEC.md §2.5 steps 7–8). State is f32 and updated in place.
//!
//! Threading: Mamba-1 channels are independent — split the per-channel slices (state, x, dt,
//! a, d, y) at one channel boundary and call again; Mamba-2 takes a head range.

use std::ops::Range;

/// Mamba-1, `I` channels, state size `N` (= `b.len()`):
/// h[i,n] = exp(dt[i]·a[i,n])·h[i,n] + (dt[i]·b[n])·x[i];  y[i] = Σ_n h[i,n]·c[n] + d[i]·x[i].
/// `state`, `a`: `[I, N]`; `x`, `dt` (already softplus'ed), `d`, `y`: `[I]`; `a` = −exp(A_log).
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba1(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) {
    let (ni, n) = (x.len(), b.len());
    assert!(n > 0, "ssm_step_mamba1: empty state");
    assert_eq!(c.len(), n, "ssm_step_mamba1: c length");
    assert_eq!(state.len(), ni * n, "ssm_step_mamba1: state length");
    assert_eq!(a.len(), ni * n, "ssm_step_mamba1: a length");
    assert!(
        dt.len() == ni && d.len() == ni && y.len() == ni,
        "ssm_step_mamba1: [I] lengths"
    );
    for i in 0..ni {
        let (xi, dti) = (x[i], dt[i]);
        let h = &mut state[i * n..(i + 1) * n];
        let ai = &a[i * n..(i + 1) * n];
        let mut acc = 0.0f32;
        for k in 0..n {
            h[k] = (dti * ai[k]).exp() * h[k] + (dti * b[k]) * xi;
            acc += h[k] * c[k];
        }
        y[i] = acc + d[i] * xi;
    }
}

/// Mamba-2 sizes: `nh` heads of dim `p`, state size `n`, `g` B/C groups (`nh % g == 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mamba2Dims {
    pub nh: usize,
    pub p: usize,
    pub n: usize,
    pub g: usize,
}

/// Mamba-2 step for all heads. `state` `[nh, P, N]`, `x`/`y` `[nh·P]`, `dt` (softplus'ed,
/// clamped by the caller if needed), `a` (= −exp(A_log)), `d`: `[nh]`; `b`, `c`: `[G·N]`.
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba2(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    dims: Mamba2Dims,
    y: &mut [f32],
) {
    ssm_step_mamba2_heads(state, x, dt, a, b, c, d, dims, 0..dims.nh, y);
}

/// Mamba-2 step for the heads in `heads` only. Every per-head slice covers just that range
/// (`state` `[len, P, N]`, `x`/`y` `[len·P]`, `dt`/`a`/`d` `[len]`); `b`, `c` are the full
/// `[G·N]`. Head h (absolute) reads group h / (nh/G):
/// s[h,p,n] = exp(dt[h]·a[h])·s[h,p,n] + (dt[h]·b[g,n])·x[h,p];  y[h,p] = Σ_n s·c[g,n] + d[h]·x[h,p].
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba2_heads(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    dims: Mamba2Dims,
    heads: Range<usize>,
    y: &mut [f32],
) {
    let Mamba2Dims { nh, p, n, g } = dims;
    assert!(
        g > 0 && nh % g == 0,
        "ssm_step_mamba2: nh={nh} not divisible by G={g}"
    );
    assert!(
        heads.start <= heads.end && heads.end <= nh,
        "ssm_step_mamba2: head range"
    );
    let len = heads.len();
    assert_eq!(state.len(), len * p * n, "ssm_step_mamba2: state length");
    assert!(
        x.len() == len * p && y.len() == len * p,
        "ssm_step_mamba2: x/y length"
    );
    assert!(
        dt.len() == len && a.len() == len && d.len() == len,
        "ssm_step_mamba2: [heads] lengths"
    );
    assert!(
        b.len() == g * n && c.len() == g * n,
        "ssm_step_mamba2: b/c length"
    );
    let heads_per_group = nh / g;
    for (j, h) in heads.enumerate() {
        let grp = h / heads_per_group;
        let (bg, cg) = (&b[grp * n..(grp + 1) * n], &c[grp * n..(grp + 1) * n]);
        let (dth, dh) = (dt[j], d[j]);
        let da = (dth * a[j]).exp();
        for pi in 0..p {
            let row = j * p + pi;
            let xv = x[row];
            let s = &mut state[row * n..(row + 1) * n];
            let mut acc = 0.0f32;
            for k in 0..n {
                s[k] = s[k] * da + (dth * bg[k]) * xv;
                acc += s[k] * cg[k];
            }
            y[row] = acc + dh * xv;
        }
    }
}
