// tokens[out] = one draw from a logits row, the CPU sampler's chain (runtime sample module)
// on the GPU: top-k (1 ≤ k ≤ 64, sorted by logit desc then id asc) → p = exp((l − max) / temp)
// → min-p → top-p (mass against the top-k total) → draw u = step.rand · Σ p of the survivors.
// −inf logits never survive; no finite logit → 0xffffffff.
//
// Bindings:
//   2 arena   logits: [vocab], row 0 of the view (l_off, l_stride, l_mode)
//   3 tokens  array<u32>, read_write
// Grid: x = 1 (k passes over the row, each a workgroup arg-max below the previous pick).

struct Params {
    l_off: u32, l_stride: u32, l_mode: u32, vocab: u32,
    out: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;

const FMAX: f32 = 3.4028235e38;
const KMAX: u32 = 64u;

var<workgroup> top_v: array<f32, 64>;
var<workgroup> top_i: array<u32, 64>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    setup(ids);
    let lo = row_at(p.l_off, p.l_stride, p.l_mode, 0u);
    let k = min(step.top_k, KMAX);
    var pv = FMAX;
    var pi = NONE;
    var found = 0u;
    for (var j = 0u; j < k; j++) {
        var v = -FMAX;
        var i = NONE;
        for (var e = ids.li; e < p.vocab; e += WG) {
            let x = arena[lo + e];
            // Candidates rank strictly below the previous pick.
            let below = j == 0u || x < pv || (x == pv && e > pi);
            if abs(x) <= FMAX && below && above(x, e, v, i) {
                v = x;
                i = e;
            }
        }
        let best = wg_top1(v, i);
        pv = best.v;
        pi = best.i;
        if ids.li == 0u {
            top_v[j] = pv;
            top_i[j] = pi;
        }
        workgroupBarrier();
    }
    if ids.li != 0u {
        return;
    }
    // Survivors of top-k (fewer if the row has fewer finite logits).
    var m = 0u;
    for (var j = 0u; j < k; j++) {
        if top_i[j] != NONE {
            m = j + 1u;
        }
    }
    if m == 0u {
        tokens[p.out] = NONE;
        return;
    }
    var z = 0.0;
    let top = top_v[0];
    for (var j = 0u; j < m; j++) {
        top_v[j] = exp((top_v[j] - top) / step.temp);
        z += top_v[j];
    }
    var keep = m;
    if step.min_p > 0.0 {
        for (var j = 0u; j < m; j++) {
            if top_v[j] < step.min_p {
                keep = min(keep, j);
                break;
            }
        }
    }
    if step.top_p < 1.0 {
        var cum = 0.0;
        for (var j = 0u; j < keep; j++) {
            cum += top_v[j];
            if cum >= step.top_p * z {
                keep = j + 1u;
                break;
            }
        }
    }
    var total = 0.0;
    for (var j = 0u; j < keep; j++) {
        total += top_v[j];
    }
    let u = step.rand * total;
    var acc = 0.0;
    var picked = NONE;
    var last = top_i[0];
    for (var j = 0u; j < keep; j++) {
        acc += top_v[j];
        if top_v[j] > 0.0 {
            last = top_i[j];
        }
        if u < acc {
            picked = top_i[j];
            break;
        }
    }
    tokens[p.out] = select(picked, last, picked == NONE);
}
