// tokens[out] = argmax of one logits row (ties to the lowest id; −inf and NaN never win; all
// masked → 0xffffffff). Greedy decoding on the GPU: only this id is read back.
//
// Bindings:
//   2 arena   logits: [vocab], row 0 of the view (l_off, l_stride, l_mode)
//   3 tokens  array<u32>, read_write
// Grid: x = 1.

struct Params {
    l_off: u32, l_stride: u32, l_mode: u32, vocab: u32,
    out: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;

const FMAX: f32 = 3.4028235e38;

@compute @workgroup_size(256)
fn main(ids: Ids) {
    setup(ids);
    let lo = row_at(p.l_off, p.l_stride, p.l_mode, 0u);
    var v = -FMAX;
    var i = NONE;
    for (var e = ids.li; e < p.vocab; e += WG) {
        let x = arena[lo + e];
        if abs(x) <= FMAX && above(x, e, v, i) {
            v = x;
            i = e;
        }
    }
    let best = wg_top1(v, i);
    if ids.li == 0u {
        tokens[p.out] = best.i;
    }
}
