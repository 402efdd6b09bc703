// y[t, row0 + r] (+)= Σ_c W[r, c] · x[t, c]   — quantized / float matrix-vector and matrix-matrix.
//
// Bindings:
//   2 arena  x: [n, cols] at (x_off, x_stride), y: [n, row0 + rows ..] at (y_off, y_stride)
//            EXPERT: route [n, 2k] = [weights | expert ids] at (route_off, route_stride)
//   3 wq     array<u32>: one shard of W (rows × cols; EXPERT: experts × rows × cols), repacked:
//            quant plane at 0, f16 scale plane at scale_off (Q8_0, Q4_0)
// Variants: one of F32 / F16 / BF16 / Q8_0 / Q4_0; EXPERT (W picked per token by the route).
// Grid: x·y = ceil(rows / RPW) row blocks, z = ceil(n / TT) token tiles.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, rows: u32,
    y_off: u32, y_stride: u32, y_mode: u32, cols: u32,
    row0: u32, scale_off: u32, accumulate: u32, expert0: u32,
    route_off: u32, route_stride: u32, route_mode: u32, route_k: u32,
    slot: u32, experts: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> wq: array<u32>;

#if SUBGROUPS
const LANES: u32 = SG;
#else
const LANES: u32 = 32u;
#endif
const RPW: u32 = WG / LANES; // rows per workgroup
#if EXPERT
const TT: u32 = 1u;
#else
const TT: u32 = 4u; // tokens per workgroup: each weight block is decoded once for TT tokens
#endif

var<workgroup> part: array<f32, 1024>; // WG × TT partial sums (tier 0 reduction)

// Weight element `gi` (global element index inside the shard) of a float matrix.
fn wf(gi: u32) -> f32 {
#if F32
    return bitcast<f32>(wq[gi]);
#elif F16
    return f16_at(wq[gi >> 1u], gi);
#else
    return bf16_at(wq[gi >> 1u], gi);
#endif
}

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let wg = setup(ids);
#if SUBGROUPS
    let lane = g_sg_lane;
    let sub = g_sg_id;
#else
    let lane = ids.li % LANES;
    let sub = ids.li / LANES;
#endif
    let r = wg * RPW + sub;
    let t0 = ids.wid.z * TT;
    let ntok = rows_of(p.x_mode);
    var on = r < p.rows && t0 < ntok;
    var le = 0u; // expert index inside the shard
#if EXPERT
    if on {
        let ro = row_at(p.route_off, p.route_stride, p.route_mode, t0);
        let e = u32(arena[ro + p.route_k + p.slot]);
        on = e >= p.expert0 && e < p.expert0 + p.experts;
        le = e - p.expert0;
    }
#endif
    var acc: array<f32, TT>;
    for (var t = 0u; t < TT; t++) {
        acc[t] = 0.0;
    }
    if on {
        let nt = min(TT, ntok - t0);
        var xo: array<u32, TT>;
        for (var t = 0u; t < nt; t++) {
            xo[t] = row_at(p.x_off, p.x_stride, p.x_mode, t0 + t);
        }
#if Q8_0 || Q4_0
        // One quant word per lane per step, so a row's lanes read consecutive words (and
        // consecutive x) in each step.
        let nb = p.cols / 32u;
        let rb = (le * p.rows + r) * nb;
#if Q8_0
        let nw = p.cols / 4u;
#else
        let nw = p.cols / 8u;
#endif
        let rw = (le * p.rows + r) * nw;
        for (var w = lane; w < nw; w += LANES) {
            let word = wq[rw + w];
#if Q8_0
            let gb = rb + w / 8u;
            let iw = i32(word);
            let q = vec4<f32>(f32(extractBits(iw, 0u, 8u)), f32(extractBits(iw, 8u, 8u)),
                              f32(extractBits(iw, 16u, 8u)), f32(extractBits(iw, 24u, 8u)));
            let c = w * 4u;
#else
            let gb = rb + w / 4u;
            let lo = vec4<f32>(f32(word & 15u), f32((word >> 8u) & 15u),
                               f32((word >> 16u) & 15u), f32((word >> 24u) & 15u)) - 8.0;
            let hi = vec4<f32>(f32((word >> 4u) & 15u), f32((word >> 12u) & 15u),
                               f32((word >> 20u) & 15u), f32(word >> 28u)) - 8.0;
            let c = (w / 4u) * 32u + (w % 4u) * 4u;
#endif
            let d = f16_at(wq[p.scale_off + (gb >> 1u)], gb);
            for (var t = 0u; t < nt; t++) {
                let xi = xo[t] + c;
                let xa = vec4<f32>(arena[xi], arena[xi + 1u], arena[xi + 2u], arena[xi + 3u]);
#if Q8_0
                acc[t] += d * dot(q, xa);
#else
                let xb = vec4<f32>(arena[xi + 16u], arena[xi + 17u], arena[xi + 18u], arena[xi + 19u]);
                acc[t] += d * (dot(lo, xa) + dot(hi, xb));
#endif
            }
        }
#else
        let rb = (le * p.rows + r) * p.cols;
        for (var c = lane; c < p.cols; c += LANES) {
            let w = wf(rb + c);
            for (var t = 0u; t < nt; t++) {
                acc[t] += w * arena[xo[t] + c];
            }
        }
#endif
    }
#if SUBGROUPS
    for (var t = 0u; t < TT; t++) {
        acc[t] = subgroupAdd(acc[t]);
    }
#else
    for (var t = 0u; t < TT; t++) {
        part[ids.li * TT + t] = acc[t];
    }
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if lane < s {
            for (var t = 0u; t < TT; t++) {
                part[ids.li * TT + t] += part[(ids.li + s) * TT + t];
            }
        }
        workgroupBarrier();
    }
    for (var t = 0u; t < TT; t++) {
        acc[t] = part[ids.li * TT + t];
    }
#endif
    if on && lane == 0u {
        let nt = min(TT, ntok - t0);
        for (var t = 0u; t < nt; t++) {
            let yi = row_at(p.y_off, p.y_stride, p.y_mode, t0 + t) + p.row0 + r;
            var v = acc[t];
            if p.accumulate != 0u {
                v += arena[yi];
            }
            arena[yi] = v;
        }
    }
}
