// Depthwise causal conv step with state, then SiLU (SPEC §0.5-0.6), over the run's rows in order:
//   state[ch] = shift_left(state[ch]) with x[t, ch] appended;  y[t, ch] = silu(b[ch] + Σ_k state[ch, k] w[ch, k])
//
// Bindings:
//   2 arena  x, y: [n, channels] views
//   3 state  array<f32>, read_write: [channels, k] (the last k inputs, oldest first)
//   4 w      array<f32>: [channels, k]
//   5 b      array<f32>: [channels] (a dummy when has_b = 0)
// Grid: x·y = ceil(channels / 256). k ≤ 8 (checked on the host).

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, channels: u32,
    y_off: u32, y_stride: u32, y_mode: u32, k: u32,
    has_b: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> b: array<f32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let ch = setup(ids) * WG + ids.li;
    if ch >= p.channels {
        return;
    }
    let k = p.k;
    var s: array<f32, 8>;
    var wk: array<f32, 8>;
    for (var j = 0u; j < k; j++) {
        s[j] = state[ch * k + j];
        wk[j] = w[ch * k + j];
    }
    var bias = 0.0;
    if p.has_b != 0u {
        bias = b[ch];
    }
    let n = rows_of(p.y_mode);
    for (var t = 0u; t < n; t++) {
        for (var j = 0u; j + 1u < k; j++) {
            s[j] = s[j + 1u];
        }
        s[k - 1u] = arena[row_at(p.x_off, p.x_stride, p.x_mode, t) + ch];
        var acc = 0.0;
        for (var j = 0u; j < k; j++) {
            acc += s[j] * wk[j];
        }
        arena[row_at(p.y_off, p.y_stride, p.y_mode, t) + ch] = silu(acc + bias);
    }
    for (var j = 0u; j < k; j++) {
        state[ch * k + j] = s[j];
    }
}
