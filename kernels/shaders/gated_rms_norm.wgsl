// u = x ⊙ silu(z); each contiguous group of `group` floats: y = w ⊙ u / sqrt(mean(u²) + eps)
// (SPEC §0.4, gate before normalize). One group = whole vector is HF v4's ungrouped variant.
//
// Bindings:
//   2 arena  x, z, y: [n, len] views (y overlaps neither)
//   3 w      array<f32>: [len]
// Grid: x·y = n tokens × (len / group) groups (one workgroup per row and group).

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, len: u32,
    z_off: u32, z_stride: u32, z_mode: u32, group: u32,
    y_off: u32, y_stride: u32, y_mode: u32, eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> w: array<f32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let id = setup(ids);
    let groups = p.len / p.group;
    let t = id / groups;
    let g0 = (id % groups) * p.group;
    let live = t < rows_of(p.y_mode);
    let xo = row_at(p.x_off, p.x_stride, p.x_mode, t) + g0;
    let zo = row_at(p.z_off, p.z_stride, p.z_mode, t) + g0;
    var ss = 0.0;
    if live {
        for (var i = ids.li; i < p.group; i += WG) {
            let u = arena[xo + i] * silu(arena[zo + i]);
            ss += u * u;
        }
    }
    let inv = 1.0 / sqrt(wg_sum(ss) / f32(p.group) + p.eps);
    if live {
        let yo = row_at(p.y_off, p.y_stride, p.y_mode, t) + g0;
        for (var i = ids.li; i < p.group; i += WG) {
            let u = arena[xo + i] * silu(arena[zo + i]);
            arena[yo + i] = w[g0 + i] * (u * inv);
        }
    }
}
