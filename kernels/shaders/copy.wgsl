// y = x (zero = 0) or y = 0 (zero = 1), for one or two (x, y) pairs in one dispatch (the
// second set has len2 = 0 when unused; the lowering pairs only copies that do not depend on
// each other).
//
// Bindings:
//   2 arena  x, y, x2, y2: [n, len] / [n, len2] views
// Grid: x·y = ceil((len + len2) / 256), z = n tokens.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, len: u32,
    y_off: u32, y_stride: u32, y_mode: u32, zero: u32,
    x2_off: u32, x2_stride: u32, x2_mode: u32, len2: u32,
    y2_off: u32, y2_stride: u32, y2_mode: u32, zero2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn copy_at(xo: u32, xs: u32, xm: u32, yo: u32, ys: u32, ym: u32, zero: u32, i: u32, t: u32) {
    if t >= rows_of(ym) {
        return;
    }
    var v = 0.0;
    if zero == 0u {
        v = arena[row_at(xo, xs, xm, t) + i];
    }
    arena[row_at(yo, ys, ym, t) + i] = v;
}

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let i = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if i < p.len {
        copy_at(p.x_off, p.x_stride, p.x_mode, p.y_off, p.y_stride, p.y_mode, p.zero, i, t);
    } else if i < p.len + p.len2 {
        copy_at(p.x2_off, p.x2_stride, p.x2_mode, p.y2_off, p.y2_stride, p.y2_mode, p.zero2, i - p.len, t);
    }
}
