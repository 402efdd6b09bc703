// y[t] += b   (bias of a projection)
//
// Bindings:
//   2 arena  y: [n, len] view
//   3 b      array<f32>: [len]
// Grid: x·y = ceil(len / 256), z = n tokens.

struct Params {
    y_off: u32, y_stride: u32, y_mode: u32, len: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> b: array<f32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let i = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if i >= p.len || t >= rows_of(p.y_mode) {
        return;
    }
    let yi = row_at(p.y_off, p.y_stride, p.y_mode, t) + i;
    arena[yi] += b[i];
}
