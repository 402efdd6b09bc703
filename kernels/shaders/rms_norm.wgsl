// y[t] = w ⊙ x[t] / sqrt(mean(x[t]²) + eps)   (has_w = 0: no weight)
//
// Bindings:
//   2 arena  x, y: [n, len] views (never overlapping)
//   3 w      array<f32>: [len] (a dummy when has_w = 0)
// Grid: x = n tokens (one workgroup per row).

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, len: u32,
    y_off: u32, y_stride: u32, y_mode: u32, has_w: u32,
    eps: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> w: array<f32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let t = setup(ids);
    let live = t < rows_of(p.y_mode);
    let xo = row_at(p.x_off, p.x_stride, p.x_mode, t);
    var ss = 0.0;
    if live {
        for (var i = ids.li; i < p.len; i += WG) {
            let v = arena[xo + i];
            ss += v * v;
        }
    }
    let inv = 1.0 / sqrt(wg_sum(ss) / f32(p.len) + p.eps);
    if live {
        let yo = row_at(p.y_off, p.y_stride, p.y_mode, t);
        for (var i = ids.li; i < p.len; i += WG) {
            var v = arena[xo + i] * inv;
            if p.has_w != 0u {
                v *= w[i];
            }
            arena[yo + i] = v;
        }
    }
}
