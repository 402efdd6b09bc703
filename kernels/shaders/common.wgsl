// Prelude prepended to every kernel (not a kernel itself).
//
// Binding convention of every kernel (group 0):
//   0  p     uniform  the dispatch's static parameters (struct Params of the kernel)
//   1  step  uniform  per-step values (struct Step), one small buffer written once per step
//   2  arena storage  array<f32>, read_write: every activation, addressed by f32 offsets
//   3+ kernel-specific storage bindings (at most 3 more: downlevel allows 4 storage buffers)
//
// An arena view ("Buf") is (off, stride, mode): mode 0 = one row per token (n rows, `stride`
// apart), 1 = only the last token's row of a per-token buffer, 2 = a single row.
//
// Tier defines (set by the host): SUBGROUPS (0/1), SG (subgroup size when SUBGROUPS = 1).

struct Step {
    n: u32,          // tokens in this run
    pos0: u32,       // absolute position of the first token
    top_k: u32,      // sampling: candidates kept (0 = greedy)
    rep_n: u32,      // sampling: recent token ids the repetition penalty reads (0 = off)
    rand: f32,       // sampling: uniform draw in [0, 1)
    temp: f32,       // sampling: temperature (> 0)
    top_p: f32,      // sampling: nucleus mass
    min_p: f32,      // sampling: min-p ratio (0 = off)
    rep_penalty: f32, // sampling: repetition penalty
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> arena: array<f32>;

const WG: u32 = 256u;

// Builtins every kernel takes; tier 1 adds the subgroup ids.
struct Ids {
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
#if SUBGROUPS
    @builtin(subgroup_id) sg_id: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
#endif
}

var<private> g_li: u32;
var<private> g_sg_id: u32;
var<private> g_sg_lane: u32;

// Records the invocation's ids; returns the linear workgroup index (x + y·nx, z is separate).
fn setup(ids: Ids) -> u32 {
    g_li = ids.li;
#if SUBGROUPS
    g_sg_id = ids.sg_id;
    g_sg_lane = ids.sg_lane;
#endif
    return ids.wid.x + ids.wid.y * ids.nwg.x;
}

// Rows of a view when the run has `step.n` tokens.
fn rows_of(mode: u32) -> u32 {
    if mode == 0u {
        return step.n;
    }
    return 1u;
}

// Arena offset of row `r` of a view.
fn row_at(off: u32, stride: u32, mode: u32, r: u32) -> u32 {
    if mode == 0u {
        return off + r * stride;
    }
    if mode == 1u {
        return off + (step.n - 1u) * stride;
    }
    return off;
}

// Absolute position of row `r` of a view.
fn pos_of(mode: u32, r: u32) -> u32 {
    if mode == 0u {
        return step.pos0 + r;
    }
    return step.pos0 + step.n - 1u;
}

var<workgroup> red: array<f32, 256>;

// Sum of `v` over the workgroup (every invocation gets the result). Call in uniform control flow.
fn wg_sum(v: f32) -> f32 {
#if SUBGROUPS
    let s = subgroupAdd(v);
    if g_sg_lane == 0u {
        red[g_sg_id] = s;
    }
    workgroupBarrier();
    var t = 0.0;
    for (var i = 0u; i < WG / SG; i++) {
        t += red[i];
    }
    workgroupBarrier();
    return t;
#else
    red[g_li] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if g_li < s {
            red[g_li] += red[g_li + s];
        }
        workgroupBarrier();
    }
    let t = red[0];
    workgroupBarrier();
    return t;
#endif
}

// Max of `v` over the workgroup.
fn wg_max(v: f32) -> f32 {
#if SUBGROUPS
    let s = subgroupMax(v);
    if g_sg_lane == 0u {
        red[g_sg_id] = s;
    }
    workgroupBarrier();
    var t = red[0];
    for (var i = 1u; i < WG / SG; i++) {
        t = max(t, red[i]);
    }
    workgroupBarrier();
    return t;
#else
    red[g_li] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if g_li < s {
            red[g_li] = max(red[g_li], red[g_li + s]);
        }
        workgroupBarrier();
    }
    let t = red[0];
    workgroupBarrier();
    return t;
#endif
}

const NONE: u32 = 0xffffffffu;

// Whether candidate (v, i) ranks above (w, j): larger value, then lower id; id NONE (no
// candidate) never ranks above anything.
fn above(v: f32, i: u32, w: f32, j: u32) -> bool {
    return i != NONE && (j == NONE || v > w || (v == w && i < j));
}

var<workgroup> top1_v: array<f32, 256>;
var<workgroup> top1_i: array<u32, 256>;

// The best (value, id) over the workgroup's candidates by `above` (every invocation gets it).
// Call in uniform control flow.
struct Top1 {
    v: f32,
    i: u32,
}

fn wg_top1(v: f32, i: u32) -> Top1 {
    top1_v[g_li] = v;
    top1_i[g_li] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if g_li < s && above(top1_v[g_li + s], top1_i[g_li + s], top1_v[g_li], top1_i[g_li]) {
            top1_v[g_li] = top1_v[g_li + s];
            top1_i[g_li] = top1_i[g_li + s];
        }
        workgroupBarrier();
    }
    let t = Top1(top1_v[0], top1_i[0]);
    workgroupBarrier();
    return t;
}

fn silu(x: f32) -> f32 {
    return x / (1.0 + exp(-x));
}

// torch softplus (beta 1, threshold 20).
fn softplus(x: f32) -> f32 {
    if x > 20.0 {
        return x;
    }
    let e = exp(x);
    if e < 1e-4 {
        return e * (1.0 - 0.5 * e); // log1p for tiny e
    }
    return log(1.0 + e);
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
fn erf_approx(x: f32) -> f32 {
    let a = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * a);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * exp(-a * a);
    return select(y, -y, x < 0.0);
}

// Exact-erf GELU (torch `gelu`, approximate = 'none').
fn gelu(x: f32) -> f32 {
    return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

// Weight planes (binding `wq`, array<u32>): quants row-major from index 0, f16 scales (two per
// u32) from `scale_off`. Q8_0: 8 words per 32-element block; Q4_0: 4 words per block (ggml nibble
// order: byte j holds element j low, j + 16 high); F16/BF16: two elements per word; F32: one.
// IEEE half → f32, exactly, with integer ops only (unpack2x16float needs a capability that
// downlevel adapters may lack).
fn half_to_f32(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if e == 0u {
        let v = f32(m) * 5.9604644775390625e-8; // m · 2^-24 (zero and subnormals)
        return select(v, -v, sign != 0u);
    }
    if e == 31u {
        return bitcast<f32>(sign | 0x7f800000u | (m << 13u));
    }
    return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}

fn f16_at(buf_word: u32, idx: u32) -> f32 {
    return half_to_f32((buf_word >> (16u * (idx & 1u))) & 0xffffu);
}

fn bf16_at(buf_word: u32, idx: u32) -> f32 {
    return bitcast<f32>(select(buf_word << 16u, buf_word & 0xffff0000u, (idx & 1u) == 1u));
}

#if KV_F32 || KV_F16
// The KV ring of the attention kernels (binding 3): keys [cap, width] then values, addressed
// by element. KV_F32 keeps f32 elements; KV_F16 keeps f16 pairs, element 2i in the low half
// of word i (the CPU ring's little-endian f16 bytes), so an f16 ring is half the bytes. The
// conversions are integer ops (as half_to_f32): exact everywhere, where pack2x16float would
// need a capability downlevel adapters lack and may round or flush as the driver likes.
#if KV_F16
@group(0) @binding(3) var<storage, read_write> ring: array<u32>;
#else
@group(0) @binding(3) var<storage, read_write> ring: array<f32>;
#endif

#if KV_F16
// f32 → IEEE half bits, rounded to nearest even as the CPU ring rounds: ±inf from 65520 (half
// a step past the largest half) up, subnormals below 2⁻¹⁴, NaN stays NaN.
fn f32_to_half(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    let sign = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if a > 0x7f800000u {
        return sign | 0x7e00u;
    }
    if a >= 0x477ff000u {
        return sign | 0x7c00u;
    }
    if a >= 0x38800000u {
        // Normal: rebias the exponent (127 → 15), round the 13 dropped bits to even.
        let m = a - 0x38000000u;
        return sign | ((m + 0xfffu + ((m >> 13u) & 1u)) >> 13u);
    }
    if a < 0x33000000u {
        return sign; // below 2⁻²⁵ (half the smallest subnormal): ±0
    }
    // Subnormal: k · 2⁻²⁴ with k = mantissa (implicit bit set) >> (126 − exponent), to even.
    let shift = 126u - (a >> 23u);
    let mant = (a & 0x7fffffu) | 0x800000u;
    let k = mant >> shift;
    let rest = mant & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    let up = rest > half || (rest == half && (k & 1u) == 1u);
    return sign | (k + select(0u, 1u, up));
}
#endif

// Ring element `e`.
fn kv(e: u32) -> f32 {
#if KV_F16
    return f16_at(ring[e >> 1u], e);
#else
    return ring[e];
#endif
}

// Ring elements e..e + 4 (e even).
fn kv4(e: u32) -> vec4<f32> {
#if KV_F16
    let lo = ring[e >> 1u];
    let hi = ring[(e >> 1u) + 1u];
    return vec4<f32>(f16_at(lo, 0u), f16_at(lo, 1u), f16_at(hi, 0u), f16_at(hi, 1u));
#else
    return vec4<f32>(ring[e], ring[e + 1u], ring[e + 2u], ring[e + 3u]);
#endif
}

// What the ring keeps of x.
fn as_kv(x: f32) -> f32 {
#if KV_F16
    return half_to_f32(f32_to_half(x));
#else
    return x;
#endif
}

fn as_kv4(x: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(as_kv(x.x), as_kv(x.y), as_kv(x.z), as_kv(x.w));
}

// Copies arena[src..src + n] into the ring at element `dst`, spread over the workgroup's
// lanes (`li`), as `as_kv` rounds them (f16: dst and n even).
fn kv_store(dst: u32, src: u32, n: u32, li: u32) {
#if KV_F16
    for (var i = 2u * li; i < n; i += 2u * WG) {
        ring[(dst + i) >> 1u] = f32_to_half(arena[src + i]) | (f32_to_half(arena[src + i + 1u]) << 16u);
    }
#else
    for (var i = li; i < n; i += WG) {
        ring[dst + i] = arena[src + i];
    }
#endif
}
#endif
