//! Lowering of Program ops to GPU dispatches: one op becomes one dispatch (a matrix split into
//! shards becomes one per shard). Weight and state bindings come from [`Resources`].

use std::collections::HashMap;

use weft_kernels::gpu::ops::{self, AttnShape, Glu, ScanViews};
use weft_kernels::gpu::{Bind, GpuError, GpuMatrix, Recorder, VecRef, VectorPool, View};

use crate::program::{Buf, Op, RopeLayout, Rows, StateRange, WeightId};

/// What ops bind besides the arena.
pub struct Resources {
    pub matrices: HashMap<WeightId, GpuMatrix>,
    pub vectors: HashMap<WeightId, VecRef>,
    /// RoPE inverse frequencies by (head dim, θ bits).
    pub inv_freq: HashMap<(usize, u32), VecRef>,
    pub pool: VectorPool,
    pub state: wgpu::Buffer,
    /// Byte offset in `state` of each state range (by its float offset in the CPU layout).
    pub state_at: HashMap<usize, u64>,
    pub rings: Vec<wgpu::Buffer>,
    pub scratch: wgpu::Buffer,
    pub sinks: usize,
    pub window: usize,
}

pub fn view(b: &Buf) -> View {
    View {
        off: b.off,
        stride: b.stride,
        width: b.width,
        rows: match b.rows {
            Rows::All => weft_kernels::gpu::Rows::All,
            Rows::Last => weft_kernels::gpu::Rows::Last,
            Rows::One => weft_kernels::gpu::Rows::One,
        },
    }
}

impl Resources {
    fn mat(&self, w: WeightId) -> &GpuMatrix {
        &self.matrices[&w]
    }

    fn vec(&self, w: WeightId) -> Bind {
        self.pool.bind(&self.vectors[&w])
    }

    fn state(&self, s: &StateRange) -> Bind {
        Bind {
            buffer: self.state.clone(),
            offset: self.state_at[&s.off],
            size: 4 * s.len as u64,
        }
    }

    fn whole(b: &wgpu::Buffer) -> Bind {
        Bind::whole(b)
    }

    /// Queues the dispatches of `op`.
    pub fn lower(&self, r: &mut Recorder, op: &Op<Buf>) -> Result<(), GpuError> {
        let v = view;
        match op {
            Op::MatMul { w, x, y } => ops::matvec(r, self.mat(*w), v(x), v(y), false),
            Op::ExpertMatMul {
                w,
                x,
                y,
                route,
                slot,
            } => ops::expert_matvec(
                r,
                self.mat(*w),
                v(x),
                v(y),
                v(route),
                route.width / 2,
                *slot,
            ),
            Op::AddBias { y, b } => ops::add_bias(r, v(y), &self.vec(*b)),
            Op::RmsNorm { x, y, w, eps } => {
                let w = w.map(|w| self.vec(w));
                ops::rms_norm(r, v(x), v(y), w.as_ref(), *eps)
            }
            Op::GatedRmsNorm {
                x,
                z,
                y,
                w,
                group,
                eps,
            } => ops::gated_rms_norm(r, v(x), v(z), v(y), &self.vec(*w), *group, *eps),
            Op::Conv1dSilu { x, y, w, b, state } => {
                let k = state.len / x.width.max(1);
                let b = b.map(|b| self.vec(b));
                ops::conv1d_silu(
                    r,
                    v(x),
                    v(y),
                    &self.state(state),
                    &self.vec(*w),
                    b.as_ref(),
                    k,
                )
            }
            Op::Softplus { x, bias, min } => {
                let b = bias.map(|b| self.vec(b));
                ops::softplus(r, v(x), b.as_ref(), *min)
            }
            Op::SsmScan1 {
                x,
                dt,
                b,
                c,
                y,
                a,
                d,
                state,
            } => {
                let sv = ScanViews {
                    x: v(x),
                    dt: v(dt),
                    b: v(b),
                    c: v(c),
                    y: v(y),
                };
                ops::ssm_scan1(r, sv, &self.state(state), &self.vec(*a), &self.vec(*d))
            }
            Op::SsmScan2 {
                x,
                dt,
                b,
                c,
                y,
                a,
                d,
                state,
                heads,
                groups,
            } => {
                let sv = ScanViews {
                    x: v(x),
                    dt: v(dt),
                    b: v(b),
                    c: v(c),
                    y: v(y),
                };
                let st = self.state(state);
                ops::ssm_scan2(r, sv, &st, &self.vec(*a), &self.vec(*d), *heads, *groups)
            }
            Op::SiluMul { gate, up, y } => ops::glu(r, Glu::Silu, v(gate), v(up), v(y)),
            Op::GeluMul { gate, up, y } => ops::glu(r, Glu::Gelu, v(gate), v(up), v(y)),
            Op::Rope {
                x,
                heads,
                head_dim,
                theta,
                layout,
            } => {
                let f = self
                    .pool
                    .bind(&self.inv_freq[&(*head_dim, theta.to_bits())]);
                ops::rope(r, v(x), *heads, *head_dim, &f, *layout == RopeLayout::Neox)
            }
            Op::Attend {
                q,
                k,
                v: vv,
                y,
                kv,
                heads,
                kv_heads,
                head_dim,
                scale,
            } => {
                let s = AttnShape {
                    heads: *heads,
                    kv_heads: *kv_heads,
                    head_dim: *head_dim,
                    scale: *scale,
                    sinks: self.sinks,
                    window: self.window,
                };
                let ring = Self::whole(&self.rings[*kv]);
                let scratch = Self::whole(&self.scratch);
                ops::attend(r, s, v(q), v(k), v(vv), v(y), &ring, &scratch)
            }
            Op::MoeRoute { logits, route, k } => ops::moe_route(r, v(logits), v(route), *k),
            Op::ScaleAdd {
                acc,
                x,
                route,
                slot,
            } => ops::scale_add(r, v(acc), v(x), v(route), route.width / 2, *slot),
            Op::Add { a, b, y } => ops::add(r, v(a), v(b), v(y)),
            Op::AddInPlace { acc, x } => ops::add(r, v(acc), v(x), v(acc)),
            Op::Copy { x, y } => ops::copy(r, v(x), v(y)),
            Op::Zero { y } => ops::zero(r, v(y)),
        }
    }
}
