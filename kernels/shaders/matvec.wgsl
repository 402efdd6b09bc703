// y[t, row0 + r] (+)= Σ_c W[r, c] · x̂[t, c]   — quantized / float matrix-vector and matrix-matrix,
// with an optional fused prologue (the normalisation that produced x) and epilogue (softplus of a
// row range, a residual add).
//
// Bindings:
//   2 arena  x: [n, cols] at (x_off, x_stride), y: [n, row0 + rows ..] at (y_off, y_stride)
//            EXPERT: route [n, 2k] = [weights | expert ids] at (route_off, route_stride)
//            NORM: z (GATED), the normalised row xn (when n_on), the residual a and the sum o
//            (when has_add)
//   3 wq     one shard of W (rows × cols; EXPERT: experts × rows × cols), repacked: quant plane
//            at 0, f16 scale plane at scale_off (Q8_0, Q4_0; words). Q8_0 and Q4_0 are bound
//            as vec4<u32> (16 bytes per lane and step, see repack.rs for the interleaved layouts).
//   4 nw     NORM: the norm weight [cols] (a dummy when has_nw = 0)
//   5 sp     the softplus bias of rows [sp_lo, sp_hi) (a dummy when sp_on = 0)
// Variants: one of F32 / F16 / BF16 / Q8_0 / Q4_0; EXPERT (W picked per token by the route);
// T1 (one token per workgroup: one-token float matvecs; one-token Q8_0 / Q4_0 take matvec1.wgsl);
// NORM (x̂ = nw ⊙ x / rms(x), the RMSNorm before the matrix) or NORM + GATED
// (x̂ = nw ⊙ u / rms(u) with u = x ⊙ silu(z): the gated RMSNorm with one group). With NORM and
// n_on every workgroup also writes its slice of x̂ to xn, for later readers of the norm's output.
// Epilogue (runtime flags): sp_on: rows [sp_lo, sp_hi) of the full matrix become
// max(softplus(v + sp[row − sp_lo]), sp_min) (sp_min_on); has_add: o = a + y.
// Grid: x·y = ceil(rows / RPW) row blocks, z = ceil(n / TT) token tiles.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, rows: u32,
    y_off: u32, y_stride: u32, y_mode: u32, cols: u32,
    row0: u32, scale_off: u32, accumulate: u32, expert0: u32,
    route_off: u32, route_stride: u32, route_mode: u32, route_k: u32,
    slot: u32, experts: u32, has_nw: u32, eps: f32,
    z_off: u32, z_stride: u32, z_mode: u32, sp_on: u32,
    n_off: u32, n_stride: u32, n_mode: u32, has_add: u32,
    a_off: u32, a_stride: u32, a_mode: u32, sp_lo: u32,
    o_off: u32, o_stride: u32, o_mode: u32, sp_hi: u32,
    sp_min_on: u32, sp_min: f32, n_on: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
#if Q8_0 || Q4_0
@group(0) @binding(3) var<storage, read> wq: array<vec4<u32>>;
#else
@group(0) @binding(3) var<storage, read> wq: array<u32>;
#endif
@group(0) @binding(4) var<storage, read> nw: array<f32>;
@group(0) @binding(5) var<storage, read> sp: array<f32>;

#if SUBGROUPS
const LANES: u32 = SG;
#else
const LANES: u32 = 32u;
#endif
const RPW: u32 = WG / LANES; // rows per workgroup
#if EXPERT || T1
const TT: u32 = 1u;
#else
const TT: u32 = 8u; // tokens per workgroup: each weight unit is dequantized once for TT tokens
#endif

var<workgroup> part: array<f32, 2048>; // WG × TT partial sums (tier 0 reduction)
var<private> ss: array<f32, TT>; // NORM: this lane's part of Σ u² per token

// x̂[t, c] given the token's row offsets of x (and z). NORM: accumulates u² into ss[t] and
// returns nw[c] · u (the 1 / rms factor is applied to the dot product at the end).
fn xin(t: u32, xo: u32, zo: u32, c: u32) -> f32 {
#if NORM
    var u = arena[xo + c];
#if GATED
    u *= silu(arena[zo + c]);
#endif
    ss[t] += u * u;
    if p.has_nw != 0u {
        u *= nw[c];
    }
    return u;
#else
    return arena[xo + c];
#endif
}

// Weight element `gi` (global element index inside the shard) of a float matrix.
fn wf(gi: u32) -> f32 {
#if F32
    return bitcast<f32>(wq[gi]);
#elif F16
    return f16_at(wq[gi >> 1u], gi);
#elif BF16
    return bf16_at(wq[gi >> 1u], gi);
#else
    return 0.0;
#endif
}

// The two f16 of a word, without half_to_f32's branches (zero and subnormals exact; the Inf/NaN
// exponent is not special-cased: a scale is finite).
fn halves(w: u32) -> vec2<f32> {
    let h = vec2<u32>(w & 0xffffu, w >> 16u);
    let a = h & vec2<u32>(0x7fffu);
    let nrm = bitcast<vec2<f32>>((a << vec2<u32>(13u)) + vec2<u32>(0x38000000u));
    let sub = vec2<f32>(a) * 5.9604644775390625e-8; // m · 2^-24 when the exponent is 0
    let v = select(nrm, sub, a < vec2<u32>(0x400u));
    return bitcast<vec2<f32>>(bitcast<vec2<u32>>(v) | ((h & vec2<u32>(0x8000u)) << vec2<u32>(16u)));
}

// x̂ at columns c, c + 32, c + 64, c + 96 (the blocks of one quant word).
fn x4(t: u32, xo: u32, zo: u32, c: u32) -> vec4<f32> {
    return vec4<f32>(xin(t, xo, zo, c), xin(t, xo, zo, c + 32u), xin(t, xo, zo, c + 64u),
                     xin(t, xo, zo, c + 96u));
}

#if Q8_0
// Bytes 0..3 of quant word `qw` (blocks with the f16 scales sa.lo, sa.hi, sb.lo, sb.hi, at
// columns c, c + 32, c + 64, c + 96) dotted with x̂; only the first `n` bytes are real blocks.
// Written out (no arrays, no loops) so that nothing depends on the driver unrolling.
fn q8_word(qw: u32, sa: u32, sb: u32, t: u32, xo: u32, zo: u32, c: u32, n: u32) -> f32 {
    let da = halves(sa);
    let db = halves(sb);
    let q = i32(qw);
    var s = da.x * f32(extractBits(q, 0u, 8u)) * xin(t, xo, zo, c);
    if n > 1u {
        s += da.y * f32(extractBits(q, 8u, 8u)) * xin(t, xo, zo, c + 32u);
    }
    if n > 2u {
        s += db.x * f32(extractBits(q, 16u, 8u)) * xin(t, xo, zo, c + 64u);
    }
    if n > 3u {
        s += db.y * f32(extractBits(q, 24u, 8u)) * xin(t, xo, zo, c + 96u);
    }
    return s;
}

// Unit `u` of a row (16 quant bytes q4, the 16 scales of its chunk in s0, s1) dotted with x̂.
fn q8_unit(q4: vec4<u32>, s0: vec4<u32>, s1: vec4<u32>, t: u32, xo: u32, zo: u32, u: u32,
           nb: u32) -> f32 {
    let k = u / 32u;
    let c0 = k * 512u + u % 32u;
    let nbk = min(16u, nb - 16u * k); // blocks in this chunk (16 but in a padded tail)
    if nbk == 16u {
        return q8_word(q4.x, s0.x, s0.y, t, xo, zo, c0, 4u)
             + q8_word(q4.y, s0.z, s0.w, t, xo, zo, c0 + 128u, 4u)
             + q8_word(q4.z, s1.x, s1.y, t, xo, zo, c0 + 256u, 4u)
             + q8_word(q4.w, s1.z, s1.w, t, xo, zo, c0 + 384u, 4u);
    }
    var s = q8_word(q4.x, s0.x, s0.y, t, xo, zo, c0, nbk);
    if nbk > 4u {
        s += q8_word(q4.y, s0.z, s0.w, t, xo, zo, c0 + 128u, nbk - 4u);
    }
    if nbk > 8u {
        s += q8_word(q4.z, s1.x, s1.y, t, xo, zo, c0 + 256u, nbk - 8u);
    }
    if nbk > 12u {
        s += q8_word(q4.w, s1.z, s1.w, t, xo, zo, c0 + 384u, nbk - 12u);
    }
    return s;
}

// The 4 weights of quant word `qw` (blocks with the f16 scales sa.lo, sa.hi, sb.lo, sb.hi),
// dequantized once for every token of a tile.
fn q8_deq(qw: u32, sa: u32, sb: u32) -> vec4<f32> {
    let q = i32(qw);
    let b = vec4<f32>(f32(extractBits(q, 0u, 8u)), f32(extractBits(q, 8u, 8u)),
                      f32(extractBits(q, 16u, 8u)), f32(extractBits(q, 24u, 8u)));
    return b * vec4<f32>(halves(sa), halves(sb));
}
#endif

#if Q4_0
// One 16-byte unit of a Q4_0 chunk dequantized: word k holds byte l of blocks 4k..4k + 4 (low
// nibble: column l, high: l + 16 of each block); lo_k / hi_k are those 8 weights.
struct Q4W {
    lx: vec4<f32>, hx: vec4<f32>, ly: vec4<f32>, hy: vec4<f32>,
    lz: vec4<f32>, hz: vec4<f32>, lw: vec4<f32>, hw: vec4<f32>,
}

fn q4_lo(w: u32) -> vec4<f32> {
    return vec4<f32>(f32(w & 15u), f32((w >> 8u) & 15u), f32((w >> 16u) & 15u),
                     f32((w >> 24u) & 15u)) - 8.0;
}

fn q4_hi(w: u32) -> vec4<f32> {
    return vec4<f32>(f32((w >> 4u) & 15u), f32((w >> 12u) & 15u), f32((w >> 20u) & 15u),
                     f32(w >> 28u)) - 8.0;
}

fn q4_deq(q: vec4<u32>, s0: vec4<u32>, s1: vec4<u32>) -> Q4W {
    let dx = vec4<f32>(halves(s0.x), halves(s0.y));
    let dy = vec4<f32>(halves(s0.z), halves(s0.w));
    let dz = vec4<f32>(halves(s1.x), halves(s1.y));
    let dw = vec4<f32>(halves(s1.z), halves(s1.w));
    return Q4W(q4_lo(q.x) * dx, q4_hi(q.x) * dx, q4_lo(q.y) * dy, q4_hi(q.y) * dy,
               q4_lo(q.z) * dz, q4_hi(q.z) * dz, q4_lo(q.w) * dw, q4_hi(q.w) * dw);
}

// x̂ at c + 32 k (k = 0..4), zero past the row (the padded last chunk).
fn x4m(t: u32, xo: u32, zo: u32, c: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if c < p.cols {
        v.x = xin(t, xo, zo, c);
    }
    if c + 32u < p.cols {
        v.y = xin(t, xo, zo, c + 32u);
    }
    if c + 64u < p.cols {
        v.z = xin(t, xo, zo, c + 64u);
    }
    if c + 96u < p.cols {
        v.w = xin(t, xo, zo, c + 96u);
    }
    return v;
}

// Word k of a dequantized unit (lo, hi at columns c, c + 16 of 4 blocks) dotted with x̂; `n`:
// real blocks from this word on (the padded last chunk reads no x past the row).
fn q4_word(lo: vec4<f32>, hi: vec4<f32>, t: u32, xo: u32, zo: u32, c: u32, n: u32) -> f32 {
    if n >= 4u {
        return dot(lo, x4(t, xo, zo, c)) + dot(hi, x4(t, xo, zo, c + 16u));
    }
    return dot(lo, x4m(t, xo, zo, c)) + dot(hi, x4m(t, xo, zo, c + 16u));
}

// A dequantized unit (column c0 = chunk · 512 + l) dotted with x̂; `nbk`: real blocks in its
// chunk (16 but in the padded last chunk, whose padding words are skipped).
fn q4_dot(w: Q4W, t: u32, xo: u32, zo: u32, c0: u32, nbk: u32) -> f32 {
    if nbk >= 16u {
        return dot(w.lx, x4(t, xo, zo, c0)) + dot(w.hx, x4(t, xo, zo, c0 + 16u))
             + dot(w.ly, x4(t, xo, zo, c0 + 128u)) + dot(w.hy, x4(t, xo, zo, c0 + 144u))
             + dot(w.lz, x4(t, xo, zo, c0 + 256u)) + dot(w.hz, x4(t, xo, zo, c0 + 272u))
             + dot(w.lw, x4(t, xo, zo, c0 + 384u)) + dot(w.hw, x4(t, xo, zo, c0 + 400u));
    }
    var s = q4_word(w.lx, w.hx, t, xo, zo, c0, nbk);
    if nbk > 4u {
        s += q4_word(w.ly, w.hy, t, xo, zo, c0 + 128u, nbk - 4u);
    }
    if nbk > 8u {
        s += q4_word(w.lz, w.hz, t, xo, zo, c0 + 256u, nbk - 8u);
    }
    if nbk > 12u {
        s += q4_word(w.lw, w.hw, t, xo, zo, c0 + 384u, nbk - 12u);
    }
    return s;
}
#endif

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
        ss[t] = 0.0;
    }
    // Every loop over tokens runs to the constant TT (guarded by t < nt) so that the per-token
    // arrays stay in registers.
    let nt = min(TT, ntok - min(t0, ntok));
    var xo: array<u32, TT>;
    var zo: array<u32, TT>;
    for (var t = 0u; t < TT; t++) {
        let tt = min(t0 + t, max(ntok, 1u) - 1u);
        xo[t] = row_at(p.x_off, p.x_stride, p.x_mode, tt);
        zo[t] = row_at(p.z_off, p.z_stride, p.z_mode, tt);
    }
    if on {
#if Q8_0
        // Interleaved chunks of 512 columns: unit u (16 bytes) of a row is lane u % 32 of chunk
        // u / 32, byte j = element u % 32 of the chunk's block j. 32 lanes read 512 contiguous
        // weight bytes, then 32 consecutive x per byte position.
        let nb = p.cols / 32u;
        let ch = (p.cols + 511u) / 512u;
        let gr = le * p.rows + r;
        let ub = gr * ch * 32u;
        let sb = p.scale_off / 4u + gr * ch * 2u;
        let nu = ch * 32u;
        // Several tokens: each unit's 16 weights are dequantized once (four vec4) and dotted
        // with every token's x̂ (32 lanes read 32 consecutive x per load); a chunk with padding
        // blocks (the last one when cols % 512 != 0) goes through q8_unit per token.
        for (var u = lane; u < nu; u += LANES) {
            let q = wq[ub + u];
            let s0 = wq[sb + 2u * (u / 32u)];
            let s1 = wq[sb + 2u * (u / 32u) + 1u];
            let c0 = (u / 32u) * 512u + u % 32u;
            let full = 16u * (u / 32u + 1u) <= nb;
            let w0 = q8_deq(q.x, s0.x, s0.y);
            let w1 = q8_deq(q.y, s0.z, s0.w);
            let w2 = q8_deq(q.z, s1.x, s1.y);
            let w3 = q8_deq(q.w, s1.z, s1.w);
            for (var t = 0u; t < TT; t++) {
                if t < nt {
                    if full {
                        acc[t] += dot(w0, x4(t, xo[t], zo[t], c0))
                                + dot(w1, x4(t, xo[t], zo[t], c0 + 128u))
                                + dot(w2, x4(t, xo[t], zo[t], c0 + 256u))
                                + dot(w3, x4(t, xo[t], zo[t], c0 + 384u));
                    } else {
                        acc[t] += q8_unit(q, s0, s1, t, xo[t], zo[t], u, nb);
                    }
                }
            }
        }
#elif Q4_0
        // Interleaved chunks of 512 columns, 16 units of 16 bytes each (repack.rs): unit u of a
        // row is unit u % 16 of chunk u / 16; lanes 0..16 and 16..32 read two chunks' 512
        // contiguous bytes, then 16 consecutive x per nibble position.
        let nb = p.cols / 32u;
        let ch = (p.cols + 511u) / 512u;
        let gr = le * p.rows + r;
        let nu = ch * 16u;
        let ub = gr * nu;
        let sb = p.scale_off / 4u + gr * ch * 2u;
        // Several tokens: each unit is dequantized once and dotted with every token's x̂.
        for (var u = lane; u < nu; u += LANES) {
            let w = q4_deq(wq[ub + u], wq[sb + 2u * (u / 16u)], wq[sb + 2u * (u / 16u) + 1u]);
            let c0 = (u / 16u) * 512u + u % 16u;
            let nbk = nb - 16u * (u / 16u);
            for (var t = 0u; t < TT; t++) {
                if t < nt {
                    acc[t] += q4_dot(w, t, xo[t], zo[t], c0, nbk);
                }
            }
        }
#else
        let rb = (le * p.rows + r) * p.cols;
        for (var c = lane; c < p.cols; c += LANES) {
            let w = wf(rb + c);
            for (var t = 0u; t < TT; t++) {
                if t < nt {
                    acc[t] += w * xin(t, xo[t], zo[t], c);
                }
            }
        }
#endif
    }
#if SUBGROUPS
    for (var t = 0u; t < TT; t++) {
        acc[t] = subgroupAdd(acc[t]);
#if NORM
        ss[t] = subgroupAdd(ss[t]);
#endif
    }
#else
    // The dot products, then (NORM) Σ u², through the same WG × TT floats.
#if NORM
    let halves_n = 2u;
#else
    let halves_n = 1u;
#endif
    let first = (ids.li - lane) * TT; // lane 0 of this row's lanes
    for (var h = 0u; h < halves_n; h++) {
        for (var t = 0u; t < TT; t++) {
            part[ids.li * TT + t] = select(acc[t], ss[t], h == 1u);
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
            if h == 0u {
                acc[t] = part[first + t];
            } else {
                ss[t] = part[first + t];
            }
        }
        workgroupBarrier();
    }
#endif
    var inv: array<f32, TT>;
    for (var t = 0u; t < TT; t++) {
#if NORM
        inv[t] = 1.0 / sqrt(ss[t] / f32(p.cols) + p.eps);
#else
        inv[t] = 1.0;
#endif
    }
#if NORM
    // This workgroup's slice of the normalised rows (subgroup / lane group 0; its row exists),
    // when a later op reads them (n_on).
    if sub == 0u && p.n_on != 0u {
        let nwg = (p.rows + RPW - 1u) / RPW;
        let per = (p.cols + nwg - 1u) / nwg;
        let c1 = min(p.cols, (wg + 1u) * per);
        for (var t = 0u; t < TT; t++) {
            let no = row_at(p.n_off, p.n_stride, p.n_mode, t0 + t);
            for (var c = wg * per + lane; t < nt && c < c1; c += LANES) {
                var u = arena[xo[t] + c];
#if GATED
                u *= silu(arena[zo[t] + c]);
#endif
                u *= inv[t];
                if p.has_nw != 0u {
                    u = nw[c] * u;
                }
                arena[no + c] = u;
            }
        }
    }
#endif
    if on && lane == 0u {
        for (var t = 0u; t < TT; t++) {
            if t >= nt {
                break;
            }
            let row = p.row0 + r;
            let yi = row_at(p.y_off, p.y_stride, p.y_mode, t0 + t) + row;
            var v = acc[t] * inv[t];
            if p.accumulate != 0u {
                v += arena[yi];
            }
            if p.sp_on != 0u && row >= p.sp_lo && row < p.sp_hi {
                v = softplus(v + sp[row - p.sp_lo]);
                if p.sp_min_on != 0u {
                    v = max(v, p.sp_min);
                }
            }
            arena[yi] = v;
            if p.has_add != 0u {
                let ai = row_at(p.a_off, p.a_stride, p.a_mode, t0 + t) + row;
                let oi = row_at(p.o_off, p.o_stride, p.o_mode, t0 + t) + row;
                arena[oi] = arena[ai] + v;
            }
        }
    }
}
