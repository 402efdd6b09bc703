// route[t] = [p_{e_0} .. p_{e_{k-1}}, e_0 .. e_{k-1}] (ids as f32): softmax over all experts, then
// the k largest probabilities in descending order, not renormalised; ties to the lower id
// (Jamba, SPEC §3.6).
//
// Bindings:
//   2 arena  logits: [n, experts]; route: [n, 2k] views
// Grid: x = n tokens. experts ≤ 256 (checked on the host).

struct Params {
    l_off: u32, l_stride: u32, l_mode: u32, experts: u32,
    r_off: u32, r_stride: u32, r_mode: u32, k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> probs: array<f32, 256>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    let t = setup(ids);
    let live = t < rows_of(p.r_mode);
    let lo = row_at(p.l_off, p.l_stride, p.l_mode, t);
    var v = -3.4e38;
    if live && ids.li < p.experts {
        v = arena[lo + ids.li];
    }
    let m = wg_max(v);
    var e = 0.0;
    if live && ids.li < p.experts {
        e = exp(v - m);
    }
    let z = wg_sum(e);
    probs[ids.li] = e * (1.0 / z);
    workgroupBarrier();
    if live && ids.li == 0u {
        let ro = row_at(p.r_off, p.r_stride, p.r_mode, t);
        var prev_p = 3.4e38;
        var prev_i = 0u;
        for (var j = 0u; j < p.k; j++) {
            // The next pick is the largest (p, −id) strictly below the previous pick.
            var best = p.experts;
            for (var i = 0u; i < p.experts; i++) {
                let q = probs[i];
                let below = j == 0u || q < prev_p || (q == prev_p && i > prev_i);
                if below && (best == p.experts || q > probs[best]) {
                    best = i;
                }
            }
            arena[ro + j] = probs[best];
            arena[ro + p.k + j] = f32(best);
            prev_p = probs[best];
            prev_i = best;
        }
    }
}
