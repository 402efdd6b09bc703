//! One decode step of the causal depthwise conv1d with a K-wide state (SPEC.md §0.5, §0.6).
//!
//! `state` is `[C, K]` channel-major, oldest input first, newest at index K−1 (HF layout);
//! `w` is the squeezed conv weight `[C, K]` (`conv1d.weight[:, 0, :]`). C = `x.len()`,
//! K = `state.len() / C`. Channels are independent: for threading, split all per-channel
//! slices (state, w, x, bias, out) at the same channel boundary.

/// Shift each channel's state left by one, store `x` at K−1, then
/// out[c] = Σ_k state[c,k]·w[c,k] (k ascending) + bias[c]. No activation.
pub fn conv1d_step(state: &mut [f32], x: &[f32], w: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let c = x.len();
    assert!(c > 0 && state.len() % c == 0, "conv1d_step: state length");
    let k = state.len() / c;
    assert!(k > 0, "conv1d_step: empty kernel");
    assert_eq!(w.len(), state.len(), "conv1d_step: weight length");
    assert_eq!(out.len(), c, "conv1d_step: out length");
    if let Some(b) = bias {
        assert_eq!(b.len(), c, "conv1d_step: bias length");
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
}

/// [`conv1d_step`] followed by silu (the Mamba conv activation).
pub fn conv1d_step_silu(
    state: &mut [f32],
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    conv1d_step(state, x, w, bias, out);
    super::act::silu_inplace(out);
}
