// Repetition penalty on one logits row, before argmax / sample_topk: the logit of each distinct
// token among the step's `rep_n` recent ids (at tokens[rec..]) is divided by the penalty when
// positive (capped at the largest finite f32) and multiplied by it otherwise — the CPU
// sampler's rule, each distinct token once. rep_n = 0: nothing to do.
//
// Bindings:
//   2 arena   logits: [vocab], row 0 of the view (l_off, l_stride, l_mode); updated in place
//   3 tokens  array<u32>, read_write: the recent ids at rec (oldest first; room for cap)
// Grid: x = 1.

struct Params {
    l_off: u32, l_stride: u32, l_mode: u32, vocab: u32,
    rec: u32, cap: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    setup(ids);
    let lo = row_at(p.l_off, p.l_stride, p.l_mode, 0u);
    let pen = step.rep_penalty;
    let n = min(step.rep_n, p.cap);
    for (var i = ids.li; i < n; i += WG) {
        let t = tokens[p.rec + i];
        // Its first occurrence in the window takes it (so no two invocations write one logit).
        var first = t < p.vocab;
        for (var j = 0u; first && j < i; j++) {
            first = tokens[p.rec + j] != t;
        }
        if first {
            let x = arena[lo + t];
            if x > 0.0 {
                arena[lo + t] = min(x / pen, 3.4028235e38);
            } else {
                arena[lo + t] = x * pen;
            }
        }
    }
}
