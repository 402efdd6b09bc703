// y = a + s·b elementwise, where s = 1 or (route_k > 0) the route weight of `slot` of the row.
// Covers Add (y = a + b), AddInPlace (a = y), ScaleAdd (acc += w_slot · x).
//
// Bindings:
//   2 arena  a, b, y: [n, len] views (a may equal y; b never overlaps y); route: [n, 2k]
// Grid: x·y = ceil(len / 256), z = n tokens.

struct Params {
    a_off: u32, a_stride: u32, a_mode: u32, len: u32,
    b_off: u32, b_stride: u32, b_mode: u32, route_k: u32,
    y_off: u32, y_stride: u32, y_mode: u32, slot: u32,
    r_off: u32, r_stride: u32, r_mode: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let i = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if i >= p.len || t >= rows_of(p.y_mode) {
        return;
    }
    var s = 1.0;
    if p.route_k != 0u {
        s = arena[row_at(p.r_off, p.r_stride, p.r_mode, t) + p.slot];
    }
    let a = arena[row_at(p.a_off, p.a_stride, p.a_mode, t) + i];
    let b = arena[row_at(p.b_off, p.b_stride, p.b_mode, t) + i];
    arena[row_at(p.y_off, p.y_stride, p.y_mode, t) + i] = a + s * b;
}
