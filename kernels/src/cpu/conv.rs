//! One decode step of the causal depthwise conv1d with a K-wide state (SPEC.md §0.5, §0.6).
//!
//! `state` is `[C, K]` channel-major, oldest input first, newest at index K−1 (HF layout);
//! `w` is the squeezed conv weight `[C, K]` (`conv1d.weight[:, 0, :]`). C = `x.len()`,
//! K = `state.len() / C`. Channels are independent: for threading, split all per-channel
//! slices (state, w, x, bias, out) at the same channel boundary.

use super::arch::ops;
use super::dispatch::{Path, selected_path};

/// Shift each channel's state left by one, store `x` at K−1, then
/// out[c] = Σ_k state[c,k]·w[c,k] (k ascending) + bias[c]. No activation.
pub fn conv1d_step(state: &mut [f32], x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    conv1d_step_on(selected_path(), state, x, w, bias, out, false);
}

/// [`conv1d_step`] followed by silu (the Mamba conv activation).
pub fn conv1d_step_silu(
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    conv1d_step_on(selected_path(), state, x, w, bias, out, true);
}

/// [`conv1d_step`] (`silu = false`) or [`conv1d_step_silu`] with the scalar reference.
pub fn conv1d_step_scalar(
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    silu: bool,
) {
    conv1d_step_on(Path::Scalar, state, x, w, bias, out, silu);
}

/// The conv step on a given path. SIMD (K = 4): the state update is exact; each output sums
/// its K products as (p0 + p1) + (p2 + p3) instead of left to right, and SiLU uses the vector
/// exp; other K run the scalar code.
pub fn conv1d_step_on(
    path: Path,
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
    silu: bool,
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    let c = x.len();
    assert!(
        c > 0 && state.len().is_multiple_of(c),
        "conv1d_step: state length"
    );
    let k = state.len() / c;
    assert!(k > 0, "conv1d_step: empty kernel");
    assert_eq!(w.len(), state.len(), "conv1d_step: weight length");
    assert_eq!(out.len(), c, "conv1d_step: out length");
    if let Some(b) = bias {
        assert_eq!(b.len(), c, "conv1d_step: bias length");
    }
    if ops::conv1d_step(path, state, x, w, bias, out, silu) {
        return;
    }
    for (ch, ((s, wc), o)) in state
        .chunks_exact_mut(k)
        .zip(w.chunks_exact(k))
        .zip(out.iter_mut())
        .enumerate()
    {
        s.copy_within(1.., 0);
        s[k - 1] = x[ch];
        // HF: sum(conv_state * w, dim=-1), then + bias.
        let acc = s.iter().zip(wc).fold(0.0f32, |a, (&si, &wi)| a + si * wi);
        *o = match bias {
            Some(b) => acc + b[ch],
            None => acc,
        };
    }
    if silu {
        super::act::silu_inplace_on(path, out);
    }
}

/// Floats of scratch [`conv1d_rows_on`] needs for `c` channels (K = 4: the weights transposed
/// and the state's last three inputs as rows).
pub fn conv1d_rows_scratch_len(c: usize) -> usize {
    7 * c
}

/// [`conv1d_rows_on`] on the selected path.
#[allow(clippy::too_many_arguments)]
pub fn conv1d_rows<'o>(
    state: &mut [f32],
    x: super::ssm::Strided,
    c: usize,
    rows: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    silu: bool,
    scratch: &mut [f32],
    out: &mut dyn FnMut(usize) -> &'o mut [f32],
) {
    conv1d_rows_on(
        selected_path(),
        state,
        x,
        c,
        rows,
        w,
        bias,
        silu,
        scratch,
        out,
    );
}

/// Prefill: the conv step (+ SiLU with `silu`) over `rows` tokens, row `r` of the input being
/// `x.row(r, c)` and of the output `out(r)` (`c` floats). Exactly `rows` [`conv1d_step_on`]
/// calls on the same path (same state, same output bits); with K = 4 on a path with a row
/// kernel, each row reads its four inputs from the input rows themselves (the state's last
/// three for the first rows) instead of shifting the state once per token, and the state is
/// written once at the end. `scratch` needs [`conv1d_rows_scratch_len`] floats.
#[allow(clippy::too_many_arguments)]
pub fn conv1d_rows_on<'o>(
    path: Path,
    state: &mut [f32],
    x: super::ssm::Strided,
    c: usize,
    rows: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    silu: bool,
    scratch: &mut [f32],
    out: &mut dyn FnMut(usize) -> &'o mut [f32],
) {
    assert!(path.is_supported(), "path {path} not supported by this CPU");
    assert!(
        c > 0 && state.len().is_multiple_of(c),
        "conv1d_rows: state length"
    );
    let k = state.len() / c;
    assert_eq!(w.len(), state.len(), "conv1d_rows: weight length");
    x.check(rows, c, "conv1d_rows: x");
    // An empty row tells whether the path has a row kernel.
    let row_kernel = ops::conv1d_row_k4(path, [&[]; 4], &[], &[], None, &mut [], silu);
    if k != 4 || rows == 0 || !row_kernel {
        for r in 0..rows {
            conv1d_step_on(path, state, x.row(r, c), w, bias, out(r), silu);
        }
        return;
    }
    assert!(
        scratch.len() >= conv1d_rows_scratch_len(c),
        "conv1d_rows: scratch length"
    );
    let (wt, hist) = scratch[..conv1d_rows_scratch_len(c)].split_at_mut(4 * c);
    for ch in 0..c {
        for j in 0..4 {
            wt[j * c + ch] = w[4 * ch + j];
        }
        for j in 0..3 {
            hist[j * c + ch] = state[4 * ch + 1 + j];
        }
    }
    let (wt, hist) = (&*wt, &*hist);
    // Input j of the sequence: x rows from 0, the state's last three before.
    let input = |j: isize| -> &[f32] {
        if j >= 0 {
            x.row(j as usize, c)
        } else {
            &hist[(j + 3) as usize * c..(j + 4) as usize * c]
        }
    };
    for r in 0..rows {
        let ri = r as isize;
        let taps = [input(ri - 3), input(ri - 2), input(ri - 1), input(ri)];
        let o = out(r);
        assert_eq!(o.len(), c, "conv1d_rows: out length");
        assert!(ops::conv1d_row_k4(path, taps, wt, w, bias, o, silu));
    }
    // The state becomes the last four inputs.
    let last = rows as isize;
    for j in 0..4 {
        let row = input(last - 4 + j as isize);
        for ch in 0..c {
            state[4 * ch + j] = row[ch];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, assert_close};

    #[test]
    fn hand_computed_step() {
        // C = 1, K = 3: state [1, 2, 3] → shift → [2, 3, x=4]; w = [1, 10, 100]; bias 0.5.
        let mut s = [1.0, 2.0, 3.0];
        let mut out = [0.0];
        conv1d_step(&mut s, &[4.0], &[1.0, 10.0, 100.0], Some(&[0.5]), &mut out);
        assert_eq!(s, [2.0, 3.0, 4.0]);
        assert_eq!(out, [2.0 + 30.0 + 400.0 + 0.5]);
    }

    /// Stepping from a zero state reproduces the zero-padded causal conv of SPEC.md §0.5, and
    /// the state ends as the last K inputs (§0.6).
    #[test]
    fn steps_equal_causal_conv_over_a_sequence() {
        let mut r = Rng::new(21);
        let (c, k, len) = (5, 4, 7);
        let w = r.normal_vec(c * k);
        let bias = r.normal_vec(c);
        let u: Vec<Vec<f32>> = (0..len).map(|_| r.normal_vec(c)).collect();
        let mut state = vec![0.0; c * k];
        for t in 0..len {
            let mut out = vec![0.0; c];
            conv1d_step_silu(&mut state, &u[t], &w, Some(&bias), &mut out);
            let want: Vec<f32> = (0..c)
                .map(|ch| {
                    let mut acc = bias[ch] as f64;
                    for j in 0..k {
                        if let Some(src) = (t + j).checked_sub(k - 1) {
                            acc += w[ch * k + j] as f64 * u[src][ch] as f64;
                        }
                    }
                    (acc / (1.0 + (-acc).exp())) as f32
                })
                .collect();
            assert_close(&out, &want, 1e-6, 1e-5);
        }
        for ch in 0..c {
            for j in 0..k {
                assert_eq!(state[ch * k + j], u[len - k + j][ch]);
            }
        }
    }

    #[test]
    fn no_bias_means_zero_bias() {
        let mut r = Rng::new(22);
        let w = r.normal_vec(8);
        let x = r.normal_vec(2);
        let (mut s1, mut s2) = (r.normal_vec(8), vec![0.0; 8]);
        s2.copy_from_slice(&s1);
        let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
        conv1d_step(&mut s1, &x, &w, None, &mut a);
        conv1d_step(&mut s2, &x, &w, Some(&[0.0, 0.0]), &mut b);
        assert_eq!(a, b);
    }

    #[test]
    #[should_panic(expected = "conv1d_step: weight length")]
    fn rejects_weight_of_wrong_size() {
        conv1d_step(&mut [0.0; 8], &[0.0; 2], &[0.0; 6], None, &mut [0.0; 2]);
    }
}
