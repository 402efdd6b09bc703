//! One decode step of the selective-scan recurrence: Mamba-1 (SPEC.md §1.4 steps 8–9) and
//! Mamba-2 (SPEC.md §2.5 steps 7–8). State is f32 and updated in place.
//!
//! The public functions dispatch to SIMD (the state update in the reference's operation order;
//! the C contraction in vector lanes); `*_scalar` are the references, `*_on` pick a path.
//!
//! Threading: Mamba-1 channels are independent — split the per-channel slices (state, x, dt,
//! a, d, y) at one channel boundary and call again; Mamba-2 takes a head range.

use std::ops::Range;

use super::arch::ops;
use super::dispatch::{Path, selected_path};

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
    ssm_step_mamba1_on(selected_path(), state, x, dt, a, b, c, d, y);
}

/// [`ssm_step_mamba1`] with the scalar reference.
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba1_scalar(
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) {
    ssm_step_mamba1_on(Path::Scalar, state, x, dt, a, b, c, d, y);
}

/// [`ssm_step_mamba1`] on a given path (SIMD: vector exp for exp(dt·a)).
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba1_on(
    path: Path,
    state: &mut [f32],
    x: &[f32],
    dt: &[f32],
    a: &[f32],
    b: &[f32],
    c: &[f32],
    d: &[f32],
    y: &mut [f32],
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    let (ni, n) = (x.len(), b.len());
    assert!(n > 0, "ssm_step_mamba1: empty state");
    assert_eq!(c.len(), n, "ssm_step_mamba1: c length");
    assert_eq!(state.len(), ni * n, "ssm_step_mamba1: state length");
    assert_eq!(a.len(), ni * n, "ssm_step_mamba1: a length");
    assert!(
        dt.len() == ni && d.len() == ni && y.len() == ni,
        "ssm_step_mamba1: [I] lengths"
    );
    if ops::ssm_mamba1(path, state, x, dt, a, b, c, d, y) {
        return;
    }
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

/// The largest N the SIMD Mamba-2 steps take (they form a head's dt·B on the stack); a
/// larger N runs the scalar reference.
pub(crate) const SIMD_MAX_N: usize = 256;

/// The SIMD Mamba-2 steps' head loop: per head, da = exp(dt·a) and dt·B (the reference's
/// product) formed once, then `row(s, dtb, c, da, x)` for each of its P state rows, which sets
/// s = s·da + dtb·x and returns Σ s·c; y = that + d·x. Inlined into each ISA's kernel, so `row`
/// runs with the kernel's target features. N ≤ [`SIMD_MAX_N`]; lengths as
/// [`ssm_step_mamba2_heads_on`] checks them.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn mamba2_rows(
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
    mut row: impl FnMut(&mut [f32], &[f32], &[f32], f32, f32) -> f32,
) {
    let Mamba2Dims { nh, p, n, g } = dims;
    let heads_per_group = nh / g;
    let mut formed = [0.0f32; SIMD_MAX_N];
    let dtb = &mut formed[..n];
    for (j, h) in heads.enumerate() {
        let grp = h / heads_per_group;
        let (bg, cg) = (&b[grp * n..(grp + 1) * n], &c[grp * n..(grp + 1) * n]);
        let (dth, dh) = (dt[j], d[j]);
        let da = (dth * a[j]).exp();
        dtb.iter_mut().zip(bg).for_each(|(o, &bv)| *o = dth * bv);
        for pi in 0..p {
            let r = j * p + pi;
            y[r] = row(&mut state[r * n..(r + 1) * n], dtb, cg, da, x[r]) + dh * x[r];
        }
    }
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
    ssm_step_mamba2_heads_on(selected_path(), state, x, dt, a, b, c, d, dims, heads, y);
}

/// [`ssm_step_mamba2_heads`] with the scalar reference.
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba2_heads_scalar(
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
    ssm_step_mamba2_heads_on(Path::Scalar, state, x, dt, a, b, c, d, dims, heads, y);
}

/// [`ssm_step_mamba2_heads`] on a given path: SIMD states are bit-identical to the scalar
/// reference's; `y` differs by the order of the C contraction.
#[allow(clippy::too_many_arguments)]
pub fn ssm_step_mamba2_heads_on(
    path: Path,
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
    assert!(path.is_supported(), "path {path} not supported by this CPU");
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
    if n <= SIMD_MAX_N && ops::ssm_mamba2(path, state, x, dt, a, b, c, d, dims, heads.clone(), y) {
        return;
    }
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

/// Rows of a multi-token input: row `t` starts at `data[t · stride]`.
#[derive(Clone, Copy, Debug)]
pub struct Strided<'a> {
    pub data: &'a [f32],
    pub stride: usize,
}

impl<'a> Strided<'a> {
    /// The first `width` elements of row `t`.
    pub fn row(&self, t: usize, width: usize) -> &'a [f32] {
        &self.data[t * self.stride..t * self.stride + width]
    }

    /// Panics with "`what` rows out of bounds" unless `rows` rows of `width` fit.
    pub(crate) fn check(&self, rows: usize, width: usize, what: &str) {
        assert!(
            rows == 0 || (rows - 1) * self.stride + width <= self.data.len(),
            "{what} rows out of bounds"
        );
    }
}

/// One Mamba-2 head's inputs over `t` tokens: row `i` of `x` holds the head's `p` inputs, of
/// `dt` its dt (element 0), of `b`/`c` its group's `N` values; `a`, `d` are the head's.
#[derive(Clone, Copy, Debug)]
pub struct Mamba2Head<'a> {
    pub x: Strided<'a>,
    pub dt: Strided<'a>,
    pub b: Strided<'a>,
    pub c: Strided<'a>,
    pub a: f32,
    pub d: f32,
    pub p: usize,
    pub t: usize,
}

/// Tokens per block of the Mamba-2 prefill scan at most (see [`ssm_scan_mamba2_head`]).
pub const SCAN_BLOCK: usize = 32;

/// Floats of scratch [`ssm_scan_mamba2_head`] needs for `t` tokens of a state with `n` columns:
/// dt·B/c and c for the tokens of one block.
pub fn ssm_scan_mamba2_scratch_len(t: usize, n: usize) -> usize {
    t.min(SCAN_BLOCK) * (n + 1)
}

/// Mamba-2 prefill: one head over `head.t` tokens, the recurrence of `t`
/// [`ssm_step_mamba2_heads`] steps of that head. `state` is the head's `[P, N]`, `y` gets
/// `[t, P]` row-major. `scratch` needs [`ssm_scan_mamba2_scratch_len`] floats.
///
/// The SIMD paths (AVX-512, AVX2, NEON; N a multiple of 16) keep state rows, or chunks of
/// them, in registers across a block of up to [`SCAN_BLOCK`] tokens, with the decay factored
/// out of the state inside the block (two FMAs per state element and token; equal to the
/// steps up to f32 rounding; the math is in `cpu/scan_blocks.rs`). The scalar path and other
/// state sizes run the steps (same bits).
pub fn ssm_scan_mamba2_head(
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) {
    ssm_scan_mamba2_head_on(selected_path(), state, head, scratch, y);
}

/// [`ssm_scan_mamba2_head`] on a given path (`Path::Scalar`: the scalar step per token, the
/// reference).
pub fn ssm_scan_mamba2_head_on(
    path: Path,
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) {
    let Mamba2Head {
        x,
        dt,
        b,
        c,
        a,
        d,
        p,
        t,
    } = head;
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert!(
        p > 0 && state.len().is_multiple_of(p),
        "ssm_scan_mamba2: state length"
    );
    let n = state.len() / p;
    assert!(n > 0, "ssm_scan_mamba2: empty state");
    x.check(t, p, "ssm_scan_mamba2: x");
    dt.check(t, 1, "ssm_scan_mamba2: dt");
    b.check(t, n, "ssm_scan_mamba2: b");
    c.check(t, n, "ssm_scan_mamba2: c");
    assert_eq!(y.len(), t * p, "ssm_scan_mamba2: y length");
    assert!(
        scratch.len() >= ssm_scan_mamba2_scratch_len(t, n),
        "ssm_scan_mamba2: scratch length"
    );
    #[cfg(target_arch = "x86_64")]
    if super::x86::ssm_scan_mamba2(path, state, head, scratch, y) {
        return;
    }
    #[cfg(target_arch = "aarch64")]
    if super::arm::ssm_scan_mamba2(path, state, head, scratch, y) {
        return;
    }
    let _ = scratch;
    let dims = Mamba2Dims { nh: 1, p, n, g: 1 };
    for i in 0..t {
        ssm_step_mamba2_heads_on(
            path,
            state,
            x.row(i, p),
            dt.row(i, 1),
            &[a],
            b.row(i, n),
            c.row(i, n),
            &[d],
            dims,
            0..1,
            &mut y[i * p..(i + 1) * p],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, assert_close};

    /// Naive f64 Mamba-2 recurrence (SPEC.md §2.5 steps 7–8).
    #[allow(clippy::too_many_arguments)]
    fn naive_mamba2(
        s: &mut [f64],
        x: &[f32],
        dt: &[f32],
        a: &[f32],
        b: &[f32],
        c: &[f32],
        d: &[f32],
        dm: Mamba2Dims,
    ) -> Vec<f32> {
        let mut y = vec![0.0; dm.nh * dm.p];
        for h in 0..dm.nh {
            let g = h / (dm.nh / dm.g);
            let da = (dt[h] as f64 * a[h] as f64).exp();
            for p in 0..dm.p {
                let xv = x[h * dm.p + p] as f64;
                let mut acc = 0.0;
                for n in 0..dm.n {
                    let i = (h * dm.p + p) * dm.n + n;
                    s[i] = da * s[i] + dt[h] as f64 * xv * b[g * dm.n + n] as f64;
                    acc += s[i] * c[g * dm.n + n] as f64;
                }
                y[h * dm.p + p] = (acc + d[h] as f64 * xv) as f32;
            }
        }
        y
    }

    #[test]
    fn mamba1_hand_computed() {
        // I = 1, N = 2: h = exp(dt·a)·h + dt·b·x; y = h·c + d·x.
        let mut h = [1.0f32, -2.0];
        let (x, dt, a, b, c, d) = ([2.0], [0.5], [-1.0, 0.0], [1.0, 3.0], [1.0, 0.5], [0.25]);
        let mut y = [0.0];
        ssm_step_mamba1(&mut h, &x, &dt, &a, &b, &c, &d, &mut y);
        let h0 = (-0.5f32).exp() + 1.0;
        assert_eq!(h, [h0, -2.0 + 3.0]);
        assert_eq!(y, [h0 + 0.5 * 1.0 + 0.5]);
    }

    #[test]
    fn mamba1_matches_f64_over_steps() {
        let mut r = Rng::new(31);
        let (ni, n) = (6, 16);
        let a: Vec<f32> = (0..ni * n).map(|_| -r.range(0.1, 3.0)).collect();
        let d = r.normal_vec(ni);
        let mut state = vec![0.0f32; ni * n];
        let mut s64 = vec![0.0f64; ni * n];
        for _ in 0..10 {
            let x = r.normal_vec(ni);
            let dt: Vec<f32> = (0..ni).map(|_| r.range(0.001, 0.5)).collect();
            let (b, c) = (r.normal_vec(n), r.normal_vec(n));
            let mut y = vec![0.0; ni];
            ssm_step_mamba1(&mut state, &x, &dt, &a, &b, &c, &d, &mut y);
            let mut want = vec![0.0f32; ni];
            for i in 0..ni {
                let mut acc = 0.0;
                for k in 0..n {
                    let j = i * n + k;
                    s64[j] = (dt[i] as f64 * a[j] as f64).exp() * s64[j]
                        + dt[i] as f64 * b[k] as f64 * x[i] as f64;
                    acc += s64[j] * c[k] as f64;
                }
                want[i] = (acc + d[i] as f64 * x[i] as f64) as f32;
            }
            // f32 recurrence vs f64: ~1e-6 relative per step, 10 steps.
            assert_close(&y, &want, 1e-5, 1e-4);
        }
        let s32: Vec<f32> = s64.iter().map(|&v| v as f32).collect();
        assert_close(&state, &s32, 1e-5, 1e-4);
    }

    #[test]
    fn mamba2_matches_f64_with_groups_and_head_ranges() {
        let mut r = Rng::new(32);
        let dm = Mamba2Dims {
            nh: 4,
            p: 3,
            n: 8,
            g: 2,
        };
        let a: Vec<f32> = (0..dm.nh).map(|_| -r.range(0.5, 4.0)).collect();
        let d = r.normal_vec(dm.nh);
        let mut state = vec![0.0f32; dm.nh * dm.p * dm.n];
        let mut split_state = state.clone();
        let mut s64 = vec![0.0f64; state.len()];
        for _ in 0..8 {
            let x = r.normal_vec(dm.nh * dm.p);
            let dt: Vec<f32> = (0..dm.nh).map(|_| r.range(0.001, 0.5)).collect();
            let (b, c) = (r.normal_vec(dm.g * dm.n), r.normal_vec(dm.g * dm.n));
            let mut y = vec![0.0; dm.nh * dm.p];
            ssm_step_mamba2(&mut state, &x, &dt, &a, &b, &c, &d, dm, &mut y);
            let want = naive_mamba2(&mut s64, &x, &dt, &a, &b, &c, &d, dm);
            assert_close(&y, &want, 1e-5, 1e-4);

            // Heads 0..1 and 1..4 separately (as two threads would) give identical bits.
            let mut y2 = vec![0.0; dm.nh * dm.p];
            let (s_lo, s_hi) = split_state.split_at_mut(dm.p * dm.n);
            let (y_lo, y_hi) = y2.split_at_mut(dm.p);
            let (x_lo, x_hi) = x.split_at(dm.p);
            ssm_step_mamba2_heads(
                s_lo,
                x_lo,
                &dt[..1],
                &a[..1],
                &b,
                &c,
                &d[..1],
                dm,
                0..1,
                y_lo,
            );
            ssm_step_mamba2_heads(
                s_hi,
                x_hi,
                &dt[1..],
                &a[1..],
                &b,
                &c,
                &d[1..],
                dm,
                1..4,
                y_hi,
            );
            assert_eq!(y2, y);
            assert_eq!(split_state, state);
        }
    }

    /// With P = 1, G = 1 and A constant over N, Mamba-2 is Mamba-1 bit for bit (a property of
    /// the references: the SIMD Mamba-1 uses a vector exp).
    #[test]
    fn mamba2_with_unit_heads_equals_mamba1() {
        let mut r = Rng::new(33);
        let (ni, n) = (5, 4);
        let a2: Vec<f32> = (0..ni).map(|_| -r.range(0.1, 2.0)).collect();
        let a1: Vec<f32> = (0..ni * n).map(|j| a2[j / n]).collect();
        let (x, d, b, c) = (
            r.normal_vec(ni),
            r.normal_vec(ni),
            r.normal_vec(n),
            r.normal_vec(n),
        );
        let dt: Vec<f32> = (0..ni).map(|_| r.range(0.01, 1.0)).collect();
        let mut s1 = r.normal_vec(ni * n);
        let mut s2 = s1.clone();
        let (mut y1, mut y2) = (vec![0.0; ni], vec![0.0; ni]);
        ssm_step_mamba1_scalar(&mut s1, &x, &dt, &a1, &b, &c, &d, &mut y1);
        let dm = Mamba2Dims {
            nh: ni,
            p: 1,
            n,
            g: 1,
        };
        ssm_step_mamba2_heads_scalar(&mut s2, &x, &dt, &a2, &b, &c, &d, dm, 0..ni, &mut y2);
        assert_eq!(s1, s2);
        assert_eq!(y1, y2);
    }

    #[test]
    #[should_panic(expected = "not divisible")]
    fn mamba2_rejects_bad_group_count() {
        let dm = Mamba2Dims {
            nh: 3,
            p: 1,
            n: 1,
            g: 2,
        };
        ssm_step_mamba2(
            &mut [0.0; 3],
            &[0.0; 3],
            &[0.0; 3],
            &[0.0; 3],
            &[0.0; 2],
            &[0.0; 2],
            &[0.0; 3],
            dm,
            &mut [0.0; 3],
        );
    }
}

#[cfg(test)]
mod bench {
    use super::*;
    use crate::testutil::Rng;

    /// `cargo test --release -p weft-kernels --lib scan_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn scan_speed() {
        let (p, n, t) = (64, 128, 128);
        let mut r = Rng::new(7);
        let x = r.normal_vec(t * p);
        let dt: Vec<f32> = (0..t).map(|_| r.range(0.001, 0.5)).collect();
        let (b, c) = (r.normal_vec(t * n), r.normal_vec(t * n));
        let mut state = vec![0.0; p * n];
        let (mut scratch, mut y) = (
            vec![0.0; ssm_scan_mamba2_scratch_len(t, n)],
            vec![0.0; t * p],
        );
        let mut best = f64::MAX;
        for _ in 0..50 {
            let s = std::time::Instant::now();
            let head = Mamba2Head {
                x: Strided {
                    data: &x,
                    stride: p,
                },
                dt: Strided {
                    data: &dt,
                    stride: 1,
                },
                b: Strided {
                    data: &b,
                    stride: n,
                },
                c: Strided {
                    data: &c,
                    stride: n,
                },
                a: -1.0,
                d: 0.5,
                p,
                t,
            };
            ssm_scan_mamba2_head(&mut state, head, &mut scratch, &mut y);
            best = best.min(s.elapsed().as_secs_f64());
        }
        eprintln!(
            "scan p={p} n={n} t={t}: {:.1} us, {:.2} ns per token-row",
            best * 1e6,
            best * 1e9 / (t * p) as f64
        );
    }
}
