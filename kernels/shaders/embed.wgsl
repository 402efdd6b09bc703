// out[t, :] = W[tokens[tok_off + t], :]   — embedding lookup (get_rows) of one shard of W.
//
// Bindings:
//   2 arena   out: [n, cols] at (out_off, out_stride, out_mode)
//   3 wq      array<u32>: rows [row0, row0 + rows) of W, repacked as for matvec
//   4 tokens  array<u32>: token ids; run token t reads tokens[tok_off + t]
// Variants: one of F32 / F16 / BF16 / Q8_0 / Q4_0. Grid: x·y = ceil(cols / 256), z = n tokens.

struct Params {
    out_off: u32, out_stride: u32, out_mode: u32, cols: u32,
    row0: u32, rows: u32, scale_off: u32, tok_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> wq: array<u32>;
@group(0) @binding(4) var<storage, read> tokens: array<u32>;

// Element c of shard row r.
fn wval(r: u32, c: u32) -> f32 {
#if Q8_0
    // Interleaved chunks of 512 columns (repack.rs): element c at byte
    // r·512·chunks + (c / 512)·512 + (c % 32)·16 + (c % 512) / 32; 16 scales per chunk.
    let ch = (p.cols + 511u) / 512u;
    let gb = r * ch * 16u + c / 32u;
    let d = f16_at(wq[p.scale_off + (gb >> 1u)], gb);
    let byte = r * ch * 512u + (c / 512u) * 512u + (c % 32u) * 16u + (c % 512u) / 32u;
    return d * f32(extractBits(i32(wq[byte / 4u]), 8u * (byte % 4u), 8u));
#elif Q4_0
    // As Q8_0 with 256-byte chunks: element c at byte r·256·chunks + (c / 512)·256
    // + (c % 16)·16 + (c % 512) / 32, high nibble when c % 32 >= 16.
    let ch = (p.cols + 511u) / 512u;
    let gb = r * ch * 16u + c / 32u;
    let d = f16_at(wq[p.scale_off + (gb >> 1u)], gb);
    let at = r * ch * 256u + (c / 512u) * 256u + (c % 16u) * 16u + (c % 512u) / 32u;
    let byte = (wq[at / 4u] >> (8u * (at % 4u))) & 0xffu;
    let q = select(byte & 15u, byte >> 4u, c % 32u >= 16u);
    return d * (f32(q) - 8.0);
#else
    let gi = r * p.cols + c;
#if F32
    return bitcast<f32>(wq[gi]);
#elif F16
    return f16_at(wq[gi >> 1u], gi);
#else
    return bf16_at(wq[gi >> 1u], gi);
#endif
#endif
}

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let c = setup(ids) * WG + ids.li;
    let t = ids.wid.z;
    if t >= rows_of(p.out_mode) || c >= p.cols {
        return;
    }
    let tok = tokens[p.tok_off + t];
    if tok < p.row0 || tok >= p.row0 + p.rows {
        return;
    }
    arena[row_at(p.out_off, p.out_stride, p.out_mode, t) + c] = wval(tok - p.row0, c);
}
