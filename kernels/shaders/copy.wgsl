// y = x (zero = 0) or y = 0 (zero = 1).
//
// Bindings:
//   2 arena  x, y: [n, len] views
// Grid: x·y = ceil(len / 256), z = n tokens.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, len: u32,
    y_off: u32, y_stride: u32, y_mode: u32, zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let i = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if i >= p.len || t >= rows_of(p.y_mode) {
        return;
    }
    var v = 0.0;
    if p.zero == 0u {
        v = arena[row_at(p.x_off, p.x_stride, p.x_mode, t) + i];
    }
    arena[row_at(p.y_off, p.y_stride, p.y_mode, t) + i] = v;
}
