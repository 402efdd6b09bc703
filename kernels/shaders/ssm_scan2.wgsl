// Mamba-2 scan over the run's rows in order (SPEC §2.5 steps 5-8), f32 state. Head h uses group
// g = h / (heads / groups); for every state row (h, p):
//   s[h, p, j] = exp(dt[h] A[h]) s[h, p, j] + (dt[h] B[g, j]) x[h, p];   y[h, p] = Σ_j s[h, p, j] C[g, j] + D[h] x[h, p]
//
// Bindings:
//   2 arena  x, y: [n, heads·P]; dt: [n, heads]; b, c: [n, groups·N] views
//   3 state  array<f32>, read_write: [heads, P, N]
//   4 a      array<f32>: [heads] (A = -exp(A_log), precomputed)
//   5 d      array<f32>: [heads]
// Grid: x·y = ceil(heads·P / RPW): a row of LANES invocations per state row, lanes stride N.

struct Params {
    x_off: u32, x_stride: u32, x_mode: u32, heads: u32,
    dt_off: u32, dt_stride: u32, dt_mode: u32, head_dim: u32,
    b_off: u32, b_stride: u32, b_mode: u32, n_state: u32,
    c_off: u32, c_stride: u32, c_mode: u32, groups: u32,
    y_off: u32, y_stride: u32, y_mode: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read> a: array<f32>;
@group(0) @binding(5) var<storage, read> d: array<f32>;

#if SUBGROUPS
const LANES: u32 = SG;
#else
const LANES: u32 = 32u;
#endif
const RPW: u32 = WG / LANES;

var<workgroup> part: array<f32, 256>;

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
    let row = wg * RPW + sub; // h·P + p
    let live = row < p.heads * p.head_dim;
    let h = row / p.head_dim;
    let grp = h / (p.heads / p.groups);
    let ns = p.n_state;
    let n = rows_of(p.y_mode);
    for (var t = 0u; t < n; t++) {
        var acc = 0.0;
        var xv = 0.0;
        if live {
            xv = arena[row_at(p.x_off, p.x_stride, p.x_mode, t) + row];
            let dtv = arena[row_at(p.dt_off, p.dt_stride, p.dt_mode, t) + h];
            let da = exp(dtv * a[h]);
            let bo = row_at(p.b_off, p.b_stride, p.b_mode, t) + grp * ns;
            let co = row_at(p.c_off, p.c_stride, p.c_mode, t) + grp * ns;
            for (var j = lane; j < ns; j += LANES) {
                let si = row * ns + j;
                let s = state[si] * da + (dtv * arena[bo + j]) * xv;
                state[si] = s;
                acc += s * arena[co + j];
            }
        }
#if SUBGROUPS
        acc = subgroupAdd(acc);
#else
        part[ids.li] = acc;
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s >>= 1u) {
            if lane < s {
                part[ids.li] += part[ids.li + s];
            }
            workgroupBarrier();
        }
        acc = part[ids.li];
        workgroupBarrier();
#endif
        if live && lane == 0u {
            arena[row_at(p.y_off, p.y_stride, p.y_mode, t) + row] = acc + d[h] * xv;
        }
    }
}
