// In place: x = max(softplus(x + bias), min)   (has_bias / has_min flags; SPEC §1.4 step 6, §2.5 step 6)
//
// Bindings:
//   2 arena  x: [n, len] view
//   3 bias   array<f32>: [len] (a dummy when has_bias = 0)
// Grid: x·y = ceil(len / 256), z = n tokens.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, len: u32,
    has_bias: u32, has_min: u32, min: f32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let i = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if i >= p.len || t >= rows_of(p.x_mode) {
        return;
    }
    let xi = row_at(p.x_off, p.x_stride, p.x_mode, t) + i;
    var v = arena[xi];
    if p.has_bias != 0u {
        v += bias[i];
    }
    v = softplus(v);
    if p.has_min != 0u {
        v = max(v, p.min);
    }
    arena[xi] = v;
}
