// In place rotary embedding of `heads` heads of `head_dim` at each row's absolute position:
//   (a, b) ← (a cos θ − b sin θ, b cos θ + a sin θ), θ = pos · inv_freq[i]
// Pairs (i, i + rot/2) when neox = 1 (HF rotate_half), (2i, 2i + 1) otherwise (llama.cpp normal).
// A second view (x2, heads2 heads; heads2 = 0 when unused) rotates in the same dispatch: a
// query and a key with the same head dim and frequencies.
//
// Bindings:
//   2 arena     x: [n, heads·head_dim], x2: [n, heads2·head_dim] views (not overlapping)
//   3 inv_freq  array<f32>: [rot / 2], computed on the host exactly as the CPU kernel does
// Grid: x·y = ceil((heads + heads2) · rot/2 / 256), z = n tokens.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, heads: u32,
    head_dim: u32, rot: u32, neox: u32, _p0: u32,
    x2_off: u32, x2_stride: u32, x2_mode: u32, heads2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> inv_freq: array<f32>;

// sin/cos of an f32 angle: reduced to [-π, π] first (Cody-Waite, 2π = 6.28125 + 1.9353071795864769e-3)
// because GPU sin/cos are only accurate near zero.
fn sincos(a: f32) -> vec2<f32> {
    let k = round(a * 0.15915494309189535);
    let r = (a - k * 6.28125) - k * 1.9353071795864769e-3;
    return vec2<f32>(sin(r), cos(r));
}

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let half_rot = p.rot / 2u;
    var id = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    var xo = p.x_off;
    var xs = p.x_stride;
    var xm = p.x_mode;
    if id >= p.heads * half_rot {
        id -= p.heads * half_rot;
        xo = p.x2_off;
        xs = p.x2_stride;
        xm = p.x2_mode;
        if id >= p.heads2 * half_rot {
            return;
        }
    }
    if t >= rows_of(xm) {
        return;
    }
    let h = id / half_rot;
    let i = id % half_rot;
    var ia = i;
    var ib = i + half_rot;
    if p.neox == 0u {
        ia = 2u * i;
        ib = 2u * i + 1u;
    }
    let sc = sincos(f32(pos_of(xm, t)) * inv_freq[i]);
    let base = row_at(xo, xs, xm, t) + h * p.head_dim;
    let a = arena[base + ia];
    let b = arena[base + ib];
    arena[base + ia] = a * sc.y - b * sc.x;
    arena[base + ib] = b * sc.y + a * sc.x;
}
