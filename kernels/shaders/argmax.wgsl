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

const NONE: u32 = 0xffffffffu;
const FMAX: f32 = 3.4028235e38;

var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;

// Whether (v, i) ranks above (w, j): larger value, then lower id; NONE never ranks above.
fn above(v: f32, i: u32, w: f32, j: u32) -> bool {
    return i != NONE && (j == NONE || v > w || (v == w && i < j));
}

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
    bv[ids.li] = v;
    bi[ids.li] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if ids.li < s && above(bv[ids.li + s], bi[ids.li + s], bv[ids.li], bi[ids.li]) {
            bv[ids.li] = bv[ids.li + s];
            bi[ids.li] = bi[ids.li + s];
        }
        workgroupBarrier();
    }
    if ids.li == 0u {
        tokens[p.out] = bi[0];
    }
}
