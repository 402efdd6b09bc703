// One token's attention split over the ring (flash-decoding), first half: workgroup (h, j)
// takes query head h and the filled ring slots [j·SPLIT, (j + 1)·SPLIT) and writes its partial
// softmax (Σ p·v, the max m, the sum l of p = exp(score − m)); attend_merge.wgsl combines the
// splits. The token's own k and v are read from the arena: the workgroup whose split holds the
// token's slot and whose head is the first of its kv head's group also appends them to the
// ring, and no workgroup reads a ring slot written in this dispatch.
// The ring keeps `sinks` first positions and a window of `window` slots after them
// (slot(pos) = pos < sinks ? pos : sinks + (pos − sinks) % window), as attend.wgsl.
//
// Bindings:
//   2 arena    q, y: [heads·hd]; k, v: [kv_heads·hd] (the run's last row of each view)
//   3 ring     keys [cap, kv_heads·hd] then values (at cap·kv_heads·hd), f32 or f16
//              elements (common.wgsl: KV_F32 / KV_F16)
//   4 part     array<f32>, read_write: [heads, splits, hd + 2] = Σ p·v, m, l
// Grid: x = heads, z = splits (= ceil(cap / SPLIT)); hd ≤ 256 and a multiple of 4.
// Every loop over slots or elements issues several independent loads per step (4 consecutive
// key elements; 4 value dims): its bound is a runtime value, so a driver need not unroll it.

struct Params {
    q_off: u32, q_stride: u32, q_mode: u32, heads: u32,
    k_off: u32, k_stride: u32, k_mode: u32, kv_heads: u32,
    v_off: u32, v_stride: u32, v_mode: u32, hd: u32,
    y_off: u32, y_stride: u32, y_mode: u32, scale: f32,
    sinks: u32, window: u32, splits: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;

const SPLIT: u32 = 64u; // ring slots per workgroup (ops.rs: ATTEND_SPLIT)
const QUARTERS: u32 = WG / SPLIT; // lanes per slot in the dot products

var<workgroup> qs: array<f32, 256>; // q of the head
var<workgroup> dots: array<f32, 256>; // [slot][quarter] partial dot products
var<workgroup> pr: array<f32, SPLIT>; // the split's probabilities
var<workgroup> vsum: array<f32, 1024>; // [slot group][dim] partial Σ p·v

// q[i..i + 4] from workgroup memory.
fn q4(i: u32) -> vec4<f32> {
    return vec4<f32>(qs[i], qs[i + 1u], qs[i + 2u], qs[i + 3u]);
}

// 4 consecutive key elements at `at`: of the arena (the token's own key, as the ring keeps
// it) or of the ring.
fn k4(own: bool, at: u32) -> vec4<f32> {
    if own {
        return as_kv4(vec4<f32>(arena[at], arena[at + 1u], arena[at + 2u], arena[at + 3u]));
    }
    return kv4(at);
}

// Value dims dl, dl + 64, dl + 128, dl + 192 (those < hd) of ring slot `s` (at vb + s · width),
// or of the token's own value (at vo + dl, as the ring keeps it) when s is its slot.
fn vrow(s: u32, cur: u32, vo: u32, vb: u32, width: u32, dl: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if s == cur {
        if dl < p.hd { v.x = arena[vo + dl]; }
        if dl + 64u < p.hd { v.y = arena[vo + dl + 64u]; }
        if dl + 128u < p.hd { v.z = arena[vo + dl + 128u]; }
        if dl + 192u < p.hd { v.w = arena[vo + dl + 192u]; }
        v = as_kv4(v);
    } else {
        let at = vb + s * width;
        if dl < p.hd { v.x = kv(at); }
        if dl + 64u < p.hd { v.y = kv(at + 64u); }
        if dl + 128u < p.hd { v.z = kv(at + 128u); }
        if dl + 192u < p.hd { v.w = kv(at + 192u); }
    }
    return v;
}

@compute @workgroup_size(256)
fn main(ids: Ids) {
    setup(ids);
    let li = ids.li;
    let h = ids.wid.x;
    let j = ids.wid.z;
    let rep = p.heads / p.kv_heads;
    let kvh = h / rep;
    let cap = p.sinks + p.window;
    let width = p.kv_heads * p.hd;
    let vbase = cap * width;
    let t = rows_of(p.q_mode) - 1u;
    let pos = pos_of(p.q_mode, t);
    var cur = pos;
    if pos >= p.sinks {
        cur = p.sinks + (pos - p.sinks) % p.window;
    }
    let filled = min(pos + 1u, cap);
    let lo = j * SPLIT;
    let hi = min(lo + SPLIT, filled);
    let base = (h * p.splits + j) * (p.hd + 2u);
    let ko = row_at(p.k_off, p.k_stride, p.k_mode, t) + kvh * p.hd;
    let vo = row_at(p.v_off, p.v_stride, p.v_mode, t) + kvh * p.hd;
    if h % rep == 0u && cur >= lo && cur < lo + SPLIT {
        kv_store(cur * width + kvh * p.hd, ko, p.hd, li);
        kv_store(vbase + cur * width + kvh * p.hd, vo, p.hd, li);
    }
    if lo >= filled {
        // An empty split (the ring is not that full yet): weight zero in the merge.
        if li == 0u {
            part[base + p.hd] = -3.4e38;
            part[base + p.hd + 1u] = 0.0;
        }
        return;
    }
    let qo = row_at(p.q_off, p.q_stride, p.q_mode, t) + h * p.hd;
    for (var i = li; i < p.hd; i += WG) {
        qs[i] = arena[qo + i];
    }
    workgroupBarrier();
    // Scores: QUARTERS lanes per slot, lane k over elements 4k..4k + 4 of every 16, two such
    // steps per iteration (their loads independent).
    let s = lo + li / QUARTERS;
    var d = 0.0;
    if s < hi {
        var kb = s * width + kvh * p.hd;
        if s == cur {
            kb = ko;
        }
        var i = (li % QUARTERS) * 4u;
        for (; i + 16u < p.hd; i += 32u) {
            d += dot(q4(i), k4(s == cur, kb + i)) + dot(q4(i + 16u), k4(s == cur, kb + i + 16u));
        }
        if i < p.hd {
            d += dot(q4(i), k4(s == cur, kb + i));
        }
    }
    dots[li] = d;
    workgroupBarrier();
    var m = -3.4e38;
    if li < SPLIT && lo + li < hi {
        var sc = 0.0;
        for (var k = 0u; k < QUARTERS; k++) {
            sc += dots[li * QUARTERS + k];
        }
        sc *= p.scale;
        pr[li] = sc;
        m = sc;
    }
    m = wg_max(m);
    var e = 0.0;
    if li < SPLIT && lo + li < hi {
        e = exp(pr[li] - m);
        pr[li] = e;
    }
    let l = wg_sum(e);
    // Σ p·v: 4 slot groups of 64 lanes, lane l over dims l, l + 64, l + 128, l + 192.
    let g = li / 64u;
    let dl = li % 64u;
    // (two slots per iteration, their loads independent)
    var acc = vec4<f32>(0.0);
    var s2 = lo + g;
    for (; s2 + 4u < hi; s2 += 8u) {
        acc += pr[s2 - lo] * vrow(s2, cur, vo, vbase + kvh * p.hd + dl, width, dl)
             + pr[s2 + 4u - lo] * vrow(s2 + 4u, cur, vo, vbase + kvh * p.hd + dl, width, dl);
    }
    if s2 < hi {
        acc += pr[s2 - lo] * vrow(s2, cur, vo, vbase + kvh * p.hd + dl, width, dl);
    }
    let vg = g * 256u + dl;
    vsum[vg] = acc.x;
    vsum[vg + 64u] = acc.y;
    vsum[vg + 128u] = acc.z;
    vsum[vg + 192u] = acc.w;
    workgroupBarrier();
    for (var i = li; i < p.hd; i += WG) {
        part[base + i] = vsum[i] + vsum[256u + i] + vsum[512u + i] + vsum[768u + i];
    }
    if li == 0u {
        part[base + p.hd] = m;
        part[base + p.hd + 1u] = l;
    }
}
