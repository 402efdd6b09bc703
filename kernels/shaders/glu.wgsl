// y = act(gate) ⊙ up, act = SiLU (SWIGLU) or exact-erf GELU (GEGLU).
//
// Bindings:
//   2 arena  gate, up, y: [n, len] views
// Grid: x·y = ceil(len / 256), z = n tokens.

struct Params {
    g_off: u32, g_stride: u32, g_mode: u32, len: u32,
    u_off: u32, u_stride: u32, u_mode: u32, _p0: u32,
    y_off: u32, y_stride: u32, y_mode: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let i = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if i >= p.len || t >= rows_of(p.y_mode) {
        return;
    }
    let g = arena[row_at(p.g_off, p.g_stride, p.g_mode, t) + i];
    let u = arena[row_at(p.u_off, p.u_stride, p.u_mode, t) + i];
#if GELU
    let v = gelu(g) * u;
#else
    let v = silu(g) * u;
#endif
    arena[row_at(p.y_off, p.y_stride, p.y_mode, t) + i] = v;
}
