// y[row0 + r] (+)= Σ_c W[r, c] · x̂[c] for ONE token row: the decode matvec of Q8_0 / Q4_0
// matrices in repack.rs's interleaved 512-column chunks, with matvec.wgsl's optional prologue
// (the normalisation that produced x) and epilogue (softplus of a row range, a residual add).
//
// Why a kernel of its own: one token leaves nothing to amortise the per-element work over, so
// here it is done once per workgroup instead of once per row. Tile by tile (TC chunks), the
// workgroup stages x̂ (norm and gate applied, zero past the row) in workgroup memory in the
// order the lanes read it (one vec4 per lane and quant word) and decodes the f16 scales of its
// RPW rows once; the lanes then stream 16-byte quant units of MR rows each and dequantize with
// the 2^23 trick (bits → float without int-to-float conversions, exact for 0..255).
//
// Bindings (as matvec.wgsl; the same Params words):
//   2 arena  x: [cols] row 0 of (x_off, x_stride, x_mode); y: [row0 + rows ..] likewise
//            NORM: z (GATED), the normalised row xn (when n_on), the residual a and the sum o
//            (when has_add)
//   3 wq     one shard of W, repacked: quant plane at 0, f16 scale plane at scale_off (words)
//   4 nw     NORM: the norm weight [cols] (a dummy when has_nw = 0)
//   5 sp     the softplus bias of rows [sp_lo, sp_hi) (a dummy when sp_on = 0)
//   CONV only (an adapter with ≥ 7 storage buffers per stage):
//   6 cstate the conv state [cv_hi − cv_lo, cv_k] of the rows [cv_lo, cv_hi), read_write
//   7 cw     the conv weight [cv_hi − cv_lo, cv_k]
//   8 cb     the conv bias [cv_hi − cv_lo] (a dummy when cv_has_b = 0)
// Variants: Q8_0 / Q4_0, optional NORM or NORM + GATED (see matvec.wgsl), or GATED alone (the
// GLU product x̂ = x ⊙ silu(z), x = up, z = gate; with GELU: x ⊙ gelu(z)); MR1: one row per lane
// group instead of two (8 rows per workgroup: twice the workgroups for matrices of few rows).
// CONV: the rows [cv_lo, cv_hi) also take conv1d_silu.wgsl's one-token step (channel
// row − cv_lo) into the view cy: the thread that finishes a row is the only one touching that
// channel's state, so the step needs no dispatch of its own (Mamba-2's in_proj → conv).
// Grid: x·y = ceil(rows / RPW) row blocks.

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
    cv_lo: u32, cv_hi: u32, cv_k: u32, cv_has_b: u32,
    cy_off: u32, cy_stride: u32, cy_mode: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read> wq: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> nw: array<f32>;
@group(0) @binding(5) var<storage, read> sp: array<f32>;
#if CONV
@group(0) @binding(6) var<storage, read_write> cstate: array<f32>;
@group(0) @binding(7) var<storage, read> cw: array<f32>;
@group(0) @binding(8) var<storage, read> cb: array<f32>;

// One causal conv step of channel c with the new input v (state oldest first; the same sum
// order as conv1d_silu.wgsl), then SiLU into cy.
fn conv_step(c: u32, v: f32) {
    let k = p.cv_k;
    let so = c * k;
    var acc = 0.0;
    for (var j = 0u; j + 1u < k; j++) {
        let s1 = cstate[so + j + 1u];
        acc += s1 * cw[so + j];
        cstate[so + j] = s1;
    }
    acc += v * cw[so + k - 1u];
    cstate[so + k - 1u] = v;
    var bias = 0.0;
    if p.cv_has_b != 0u {
        bias = cb[c];
    }
    arena[row_at(p.cy_off, p.cy_stride, p.cy_mode, 0u) + c] = silu(acc + bias);
}
#endif

const LANES: u32 = 32u; // lanes per row group (the chunk layout's width, not the subgroup's)
const GROUPS: u32 = WG / LANES;
#if MR1
const MR: u32 = 1u; // rows per lane group (MR1: matrices of few rows, for more workgroups)
#else
const MR: u32 = 2u;
#endif
const RPW: u32 = GROUPS * MR; // rows per workgroup (ops.rs: matvec1_rows)
const TC: u32 = 2u; // chunks of 512 columns per tile (H100: 6-14 % faster than 4 chunks)
const MAGIC: u32 = 0x4b000000u; // 2^23: its mantissa takes a byte exactly

var<workgroup> xs: array<vec4<f32>, TC * 128u>; // x̂ of the tile, in lane order
var<workgroup> sc: array<vec4<f32>, RPW * TC * 4u>; // the rows' block scales of the tile
var<workgroup> part: array<f32, WG * MR>; // partial dot products

// The two f16 of a word as f32 (zero and subnormals exact; a scale is finite).
fn halves(w: u32) -> vec2<f32> {
    let h = vec2<u32>(w & 0xffffu, w >> 16u);
    let a = h & vec2<u32>(0x7fffu);
    let nrm = bitcast<vec2<f32>>((a << vec2<u32>(13u)) + vec2<u32>(0x38000000u));
    // Subnormal: mantissa · 2^-24, the mantissa turned to float by the 2^23 trick.
    let sub = (bitcast<vec2<f32>>(a | vec2<u32>(MAGIC)) - 8388608.0) * 5.9604644775390625e-8;
    let v = select(nrm, sub, a < vec2<u32>(0x400u));
    return bitcast<vec2<f32>>(bitcast<vec2<u32>>(v) | ((h & vec2<u32>(0x8000u)) << vec2<u32>(16u)));
}

// x̂[c]: x (⊙ silu(z)) (⊙ nw), 0 past the row; NORM adds u² to `ss`.
fn xhat(xo: u32, zo: u32, c: u32, ss: ptr<function, f32>) -> f32 {
    if c >= p.cols {
        return 0.0;
    }
    var u = arena[xo + c];
#if GATED
#if GELU
    u *= gelu(arena[zo + c]);
#else
    u *= silu(arena[zo + c]);
#endif
#endif
#if NORM
    *ss += u * u;
    if p.has_nw != 0u {
        u *= nw[c];
    }
#endif
    return u;
}

#if Q8_0
// Bytes of a Q8_0 word as signed values: flip the sign bit (bias 128), then 2^23 + byte − 2^23 − 128.
fn deq8(w: u32) -> vec4<f32> {
    let v = w ^ 0x80808080u;
    let m = vec4<u32>(v & 0xffu, (v >> 8u) & 0xffu, (v >> 16u) & 0xffu, v >> 24u);
    return bitcast<vec4<f32>>(m | vec4<u32>(MAGIC)) - 8388736.0;
}
#endif

#if Q4_0
// Low / high nibbles of a Q4_0 word's 4 bytes minus 8.
fn deq4(w: u32, shift: u32) -> vec4<f32> {
    let v = w >> shift;
    let m = vec4<u32>(v & 0xfu, (v >> 8u) & 0xfu, (v >> 16u) & 0xfu, (v >> 24u) & 0xfu);
    return bitcast<vec4<f32>>(m | vec4<u32>(MAGIC)) - 8388616.0;
}
#endif

#if Q8_0
// One Q8_0 unit (16 bytes: element `lane` of the 16 blocks of chunk kk of the tile) of row rr
// dotted with the staged x̂.
fn unit_dot(w: vec4<u32>, rr: u32, kk: u32, lane: u32) -> f32 {
    let so = (rr * TC + kk) * 4u;
    let xb = kk * 128u + lane;
    return dot(deq8(w.x) * sc[so], xs[xb]) + dot(deq8(w.y) * sc[so + 1u], xs[xb + 32u])
         + dot(deq8(w.z) * sc[so + 2u], xs[xb + 64u]) + dot(deq8(w.w) * sc[so + 3u], xs[xb + 96u]);
}
#else
// One Q4_0 unit (16 bytes: byte l of the 16 blocks of chunk kk of the tile) of row rr dotted
// with the staged x̂ (low nibbles: column l of each block, high: l + 16).
fn unit_dot(w: vec4<u32>, rr: u32, kk: u32, l: u32) -> f32 {
    let so = (rr * TC + kk) * 4u;
    let xb = kk * 128u + l;
    let s0 = sc[so];
    let s1 = sc[so + 1u];
    let s2 = sc[so + 2u];
    let s3 = sc[so + 3u];
    return dot(deq4(w.x, 0u) * s0, xs[xb]) + dot(deq4(w.x, 4u) * s0, xs[xb + 16u])
         + dot(deq4(w.y, 0u) * s1, xs[xb + 32u]) + dot(deq4(w.y, 4u) * s1, xs[xb + 48u])
         + dot(deq4(w.z, 0u) * s2, xs[xb + 64u]) + dot(deq4(w.z, 4u) * s2, xs[xb + 80u])
         + dot(deq4(w.w, 0u) * s3, xs[xb + 96u]) + dot(deq4(w.w, 4u) * s3, xs[xb + 112u]);
}
#endif

// Quant unit `i` (16 bytes) of chunk `k` of row `row`; zeros past the row (the branch is uniform
// across the workgroup: a tile's chunks past the row are the same for every row).
fn unit(row: u32, ch: u32, k: u32, i: u32) -> vec4<u32> {
#if Q8_0
    let upc = 32u;
#else
    let upc = 16u;
#endif
    if k >= ch {
        return vec4<u32>(0u);
    }
    return wq[(row * ch + k) * upc + i];
}

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let wg = setup(ids);
    let li = ids.li;
    let lane = li % LANES;
    let grp = li / LANES;
    let ch = (p.cols + 511u) / 512u; // chunks per row
    let xo = row_at(p.x_off, p.x_stride, p.x_mode, 0u);
    let zo = row_at(p.z_off, p.z_stride, p.z_mode, 0u);
    let last = max(p.rows, 1u) - 1u;
    // This lane group's rows a (and b unless MR1); clamped for loads: rows past the shard are
    // computed, not written. Everything per row is spelled out twice (no private arrays: their dynamic
    // indexing may land in local memory when a driver does not unroll).
    let ra = wg * RPW + grp * MR;
    let ga = min(ra, last);
    let rra = grp * MR;
#if !MR1
    let gb = min(ra + 1u, last);
    let rrb = rra + 1u;
#endif
    var acc_a = 0.0;
#if !MR1
    var acc_b = 0.0;
#endif
    var ss = 0.0;
    let tiles = (ch + TC - 1u) / TC;
    for (var tile = 0u; tile < tiles; tile++) {
        let k0 = tile * TC;
        // This lane's quant units of the tile, issued before the staging so that they are in
        // flight meanwhile. Q8_0: unit `lane` of both chunks; Q4_0: unit lane % 16 of chunk
        // lane / 16.
#if Q8_0
        let a0 = unit(ga, ch, k0, lane);
        let a1 = unit(ga, ch, k0 + 1u, lane);
#if !MR1
        let b0 = unit(gb, ch, k0, lane);
        let b1 = unit(gb, ch, k0 + 1u, lane);
#endif
#else
        let kq = lane / 16u;
        let l = lane % 16u;
        let a0 = unit(ga, ch, k0 + kq, l);
#if !MR1
        let b0 = unit(gb, ch, k0 + kq, l);
#endif
#endif
        workgroupBarrier(); // the previous tile's readers are done with xs and sc
        // Stage x̂: slot s holds x̂ at c, c + 32, c + 64, c + 96 for the base column c of the
        // lane and quant word that read it (Q8_0: [kk][word][lane]; Q4_0: [kk][word][lo/hi][lane]).
        for (var s = li; s < TC * 128u; s += WG) {
            let kk = s / 128u;
            let rem = s % 128u;
#if Q8_0
            let c = (k0 + kk) * 512u + (rem / 32u) * 128u + rem % 32u;
#else
            let c = (k0 + kk) * 512u + (rem / 32u) * 128u + ((rem / 16u) % 2u) * 16u + rem % 16u;
#endif
            let v0 = xhat(xo, zo, c, &ss);
            let v1 = xhat(xo, zo, c + 32u, &ss);
            let v2 = xhat(xo, zo, c + 64u, &ss);
            let v3 = xhat(xo, zo, c + 96u, &ss);
            xs[s] = vec4<f32>(v0, v1, v2, v3);
        }
        // Decode the tile's scales: thread i < RPW · TC · 2 takes 8 of row i / (2 TC), chunk
        // (i / 2) % TC.
        if li < RPW * TC * 2u {
            let rr = li / (TC * 2u);
            let kk = (li / 2u) % TC;
            let half = li % 2u;
            var s8 = vec4<u32>(0u);
            if k0 + kk < ch {
                let row = min(wg * RPW + rr, last);
                s8 = wq[p.scale_off / 4u + (row * ch + k0 + kk) * 2u + half];
            }
            let o = (rr * TC + kk) * 4u + half * 2u;
            sc[o] = vec4<f32>(halves(s8.x), halves(s8.y));
            sc[o + 1u] = vec4<f32>(halves(s8.z), halves(s8.w));
        }
        workgroupBarrier();
#if Q8_0
        acc_a += unit_dot(a0, rra, 0u, lane) + unit_dot(a1, rra, 1u, lane);
#if !MR1
        acc_b += unit_dot(b0, rrb, 0u, lane) + unit_dot(b1, rrb, 1u, lane);
#endif
#else
        acc_a += unit_dot(a0, rra, kq, l);
#if !MR1
        acc_b += unit_dot(b0, rrb, kq, l);
#endif
#endif
    }
#if NORM
    let inv = 1.0 / sqrt(wg_sum(ss) / f32(p.cols) + p.eps);
#else
    let inv = 1.0;
#endif
    part[li] = acc_a;
#if !MR1
    part[WG + li] = acc_b;
#endif
    workgroupBarrier();
#if NORM
    // This workgroup's slice of the normalised row, when a later op reads it (n_on).
    let nwg = (p.rows + RPW - 1u) / RPW;
    let per = (p.cols + nwg - 1u) / nwg;
    let c1 = min(p.cols, (wg + 1u) * per);
    let no = row_at(p.n_off, p.n_stride, p.n_mode, 0u);
    for (var c = wg * per + li; p.n_on != 0u && c < c1; c += WG) {
        var u = arena[xo + c];
#if GATED
        u *= silu(arena[zo + c]);
#endif
        u *= inv;
        if p.has_nw != 0u {
            u = nw[c] * u;
        }
        arena[no + c] = u;
    }
#endif
    // One thread per row: the 32 lanes' sum, then the epilogue.
    let r = wg * RPW + li;
    if li < RPW && r < p.rows {
        let base = (li % MR) * WG + (li / MR) * LANES;
        var dotv = 0.0;
        for (var i = 0u; i < LANES; i++) {
            dotv += part[base + i];
        }
        let row = p.row0 + r;
        let yi = row_at(p.y_off, p.y_stride, p.y_mode, 0u) + row;
        var v = dotv * inv;
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
#if CONV
        if row >= p.cv_lo && row < p.cv_hi {
            conv_step(row - p.cv_lo, v);
        }
#endif
        if p.has_add != 0u {
            let ai = row_at(p.a_off, p.a_stride, p.a_mode, 0u) + row;
            let oi = row_at(p.o_off, p.o_stride, p.o_mode, 0u) + row;
            arena[oi] = arena[ai] + v;
        }
    }
}
