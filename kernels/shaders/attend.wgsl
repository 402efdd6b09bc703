// Row by row: append k[t], v[t] to the KV ring at the slot of the row's position, then softmax
// attention of q[t] over the filled slots (GQA: query head h reads kv head h / (heads / kv_heads)).
// The ring keeps `sinks` first positions forever and a window of `window` slots after them
// (StreamingLLM); slot(pos) = pos < sinks ? pos : sinks + (pos − sinks) % window.
//
// Bindings:
//   2 arena    q, y: [n, heads·hd]; k, v: [n, kv_heads·hd] views
//   3 ring     keys [cap, kv_heads·hd] then values (at cap·kv_heads·hd), f32 or f16
//              elements (common.wgsl: KV_F32 / KV_F16)
//   4 scores   array<f32>, read_write: [kv_heads, cap] scratch
// Grid: x = kv_heads (one workgroup per kv head, its query heads in turn; rows in order, so a
// prefill chunk sees exactly the ring the CPU sees after each append).
// Softmax: per-invocation running max over its slots, workgroup max, exp + sum, then Σ p·v / Σ p
// (for hd ≤ 128 the lanes take the slots in 2 or 4 groups).

struct Params {
    q_off: u32, q_stride: u32, q_mode: u32, heads: u32,
    k_off: u32, k_stride: u32, k_mode: u32, kv_heads: u32,
    v_off: u32, v_stride: u32, v_mode: u32, hd: u32,
    y_off: u32, y_stride: u32, y_mode: u32, scale: f32,
    sinks: u32, window: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;

var<workgroup> vpart: array<f32, 256>; // the slot groups' partial Σ p·v, [group][dim]

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let j = setup(ids);
    let live = j < p.kv_heads;
    let cap = p.sinks + p.window;
    let width = p.kv_heads * p.hd;
    let vbase = cap * width;
    let rep = p.heads / p.kv_heads;
    let sbase = j * cap;
    let n = rows_of(p.y_mode);
    for (var t = 0u; t < n; t++) {
        let pos = pos_of(p.y_mode, t);
        var slot = pos;
        if pos >= p.sinks {
            slot = p.sinks + (pos - p.sinks) % p.window;
        }
        let filled = min(pos + 1u, cap);
        if live {
            let ko = row_at(p.k_off, p.k_stride, p.k_mode, t) + j * p.hd;
            let vo = row_at(p.v_off, p.v_stride, p.v_mode, t) + j * p.hd;
            kv_store(slot * width + j * p.hd, ko, p.hd, ids.li);
            kv_store(vbase + slot * width + j * p.hd, vo, p.hd, ids.li);
        }
        storageBarrier();
        for (var r = 0u; r < rep; r++) {
            let hq = j * rep + r;
            let qo = row_at(p.q_off, p.q_stride, p.q_mode, t) + hq * p.hd;
            var m = -3.4e38;
            if live {
                for (var s = ids.li; s < filled; s += WG) {
                    let kb = s * width + j * p.hd;
                    var dot = 0.0;
                    for (var i = 0u; i < p.hd; i++) {
                        dot += arena[qo + i] * kv(kb + i);
                    }
                    let sc = dot * p.scale;
                    scores[sbase + s] = sc;
                    m = max(m, sc);
                }
            }
            m = wg_max(m);
            var l = 0.0;
            if live {
                for (var s = ids.li; s < filled; s += WG) {
                    let e = exp(scores[sbase + s] - m);
                    scores[sbase + s] = e;
                    l += e;
                }
            }
            l = wg_sum(l);
            storageBarrier();
            // Σ p·v: with hd ≤ 128 the lanes split the slots into `groups` (every `groups`-th
            // slot per group, its partial sums added after a barrier), so no lane walks the
            // whole ring alone.
            let yo = row_at(p.y_off, p.y_stride, p.y_mode, t) + hq * p.hd;
            let span = select(select(WG, 128u, p.hd <= 128u), 64u, p.hd <= 64u);
            let groups = WG / span;
            let g = ids.li / span;
            if live {
                for (var i = ids.li % span; i < p.hd; i += span) {
                    var acc = 0.0;
                    for (var s = g; s < filled; s += groups) {
                        acc += scores[sbase + s] * kv(vbase + s * width + j * p.hd + i);
                    }
                    if groups == 1u {
                        arena[yo + i] = acc / l;
                    } else {
                        vpart[ids.li] = acc;
                    }
                }
            }
            if groups > 1u {
                workgroupBarrier();
                if live && ids.li < p.hd {
                    var acc = 0.0;
                    for (var k = 0u; k < groups; k++) {
                        acc += vpart[k * span + ids.li];
                    }
                    arena[yo + ids.li] = acc / l;
                }
                workgroupBarrier();
            }
            storageBarrier();
        }
    }
}
