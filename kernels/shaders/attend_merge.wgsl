// One token's attention split over the ring, second half: y[h] = Σ_j o_j · e^(m_j − M) /
// Σ_j l_j · e^(m_j − M) over the splits j of attend1.wgsl (M = max_j m_j; an empty split has
// m = −3.4e38 and l = 0, weight zero; only the splits holding filled slots are read).
//
// Bindings:
//   2 arena    y: [heads·hd] (the run's last row of its view)
//   3 part     array<f32>: [heads, splits, hd + 2] = Σ p·v, m, l
// Grid: x = heads.

struct Params {
    q_off: u32, q_stride: u32, q_mode: u32, heads: u32,
    k_off: u32, k_stride: u32, k_mode: u32, kv_heads: u32,
    v_off: u32, v_stride: u32, v_mode: u32, hd: u32,
    y_off: u32, y_stride: u32, y_mode: u32, scale: f32,
    sinks: u32, window: u32, splits: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> part: array<f32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    setup(ids);
    let h = ids.wid.x;
    let row = (p.hd + 2u);
    let base = h * p.splits * row;
    // Only the splits that hold filled slots (the others are empty).
    let t = rows_of(p.y_mode) - 1u;
    let filled = min(pos_of(p.y_mode, t) + 1u, p.sinks + p.window);
    let splits = min(p.splits, (filled + 63u) / 64u);
    var mx = -3.4e38;
    for (var j = 0u; j < splits; j++) {
        mx = max(mx, part[base + j * row + p.hd]);
    }
    var l = 0.0;
    for (var j = 0u; j < splits; j++) {
        l += part[base + j * row + p.hd + 1u] * exp(part[base + j * row + p.hd] - mx);
    }
    let yo = row_at(p.y_off, p.y_stride, p.y_mode, t) + h * p.hd;
    for (var i = ids.li; i < p.hd; i += WG) {
        var acc = 0.0;
        for (var j = 0u; j < splits; j++) {
            acc += part[base + j * row + i] * exp(part[base + j * row + p.hd] - mx);
        }
        arena[yo + i] = acc / l;
    }
}
