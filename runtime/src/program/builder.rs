//! [`ProgramBuilder`]: the vocabulary architecture files lower their blocks with.
//!
//! Every op result is a fresh value; values are placed in the arena at [`ProgramBuilder::finish`]
//! by liveness (first-fit over the values alive at the same time), so a 40-layer model needs
//! about one layer's worth of activations.

use super::op::RopeLayout;
use super::{Buf, KvSpec, Op, Program, Role, Rows, StateLayout, StateRange, WeightId};
use crate::model::weights::{Mat, Vector};

/// A view of a builder value: columns `col..col + width` of its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Val {
    value: u32,
    col: u32,
    width: u32,
    rows: Rows,
}

impl Val {
    pub fn width(&self) -> usize {
        self.width as usize
    }
}

struct Value {
    width: usize,
    per_token: bool,
    first: usize,
    last: usize,
}

/// The inputs of a selective scan: activations, per-head or per-channel `A`, `D`, and the state.
#[derive(Clone, Copy, Debug)]
pub struct Scan {
    pub x: Val,
    pub dt: Val,
    pub b: Val,
    pub c: Val,
    pub a: WeightId,
    pub d: WeightId,
    pub state: StateRange,
}

/// Head layout and scale of an attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttnShape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub scale: f32,
}

/// Arena offsets are rounded to this many floats (64 bytes) for vector loads.
const ALIGN: usize = 16;

/// Describes a Program one op at a time.
pub struct ProgramBuilder {
    rows: usize,
    values: Vec<Value>,
    ops: Vec<Op<Val>>,
    state: StateLayout,
    input: Val,
}

impl ProgramBuilder {
    /// A builder for Programs of up to `rows` tokens whose input embeddings are `n_embd` wide.
    pub fn new(rows: usize, n_embd: usize) -> Self {
        let mut p = ProgramBuilder {
            rows: rows.max(1),
            values: Vec::new(),
            ops: Vec::new(),
            state: StateLayout::default(),
            input: Val {
                value: 0,
                col: 0,
                width: 0,
                rows: Rows::All,
            },
        };
        p.input = p.alloc(n_embd);
        p.values[0].first = 0;
        p
    }

    /// The token embeddings (or frames) of this run, `[n, n_embd]`.
    pub fn input(&self) -> Val {
        self.input
    }

    /// Whether this Program processes more than one token per run.
    pub fn is_batched(&self) -> bool {
        self.rows > 1
    }

    /// A new per-token value of `width` floats.
    pub fn alloc(&mut self, width: usize) -> Val {
        self.new_value(width, true)
    }

    fn new_value(&mut self, width: usize, per_token: bool) -> Val {
        self.values.push(Value {
            width,
            per_token,
            first: usize::MAX,
            last: 0,
        });
        Val {
            value: (self.values.len() - 1) as u32,
            col: 0,
            width: width as u32,
            rows: if per_token { Rows::All } else { Rows::One },
        }
    }

    /// A new value shaped like `like`'s rows (per token, or a single row).
    fn alloc_like(&mut self, like: Val, width: usize) -> Val {
        self.new_value(width, like.rows == Rows::All)
    }

    /// Columns `col..col + width` of `v`.
    pub fn cols(&self, v: Val, col: usize, width: usize) -> Val {
        assert!(col + width <= v.width(), "column view out of range");
        Val {
            col: v.col + col as u32,
            width: width as u32,
            ..v
        }
    }

    /// Splits `v` into consecutive column views of the given widths (which must cover it).
    pub fn split<const K: usize>(&self, v: Val, widths: [usize; K]) -> [Val; K] {
        assert_eq!(
            widths.iter().sum::<usize>(),
            v.width(),
            "split must cover the value"
        );
        let mut col = 0;
        widths.map(|w| {
            let view = self.cols(v, col, w);
            col += w;
            view
        })
    }

    /// The last token's row of a per-token value.
    pub fn last(&self, v: Val) -> Val {
        Val {
            rows: if v.rows == Rows::One {
                Rows::One
            } else {
                Rows::Last
            },
            ..v
        }
    }

    /// Floats of recurrent state (conv or SSM) owned by one layer.
    pub fn recurrent_state(&mut self, len: usize) -> StateRange {
        let range = StateRange {
            off: self.state.recurrent_len,
            len,
        };
        self.state.recurrent_len += len;
        range
    }

    /// A new KV ring (one attention call site) of `width` floats per position.
    pub fn kv_ring(&mut self, width: usize) -> usize {
        self.state.kv.push(KvSpec { width });
        self.state.kv.len() - 1
    }

    pub fn push(&mut self, op: Op<Val>) {
        let at = self.ops.len();
        let values = &mut self.values;
        op.for_each(|_, v| {
            let value = &mut values[v.value as usize];
            value.first = value.first.min(at);
            value.last = value.last.max(at);
        });
        self.ops.push(op);
    }

    // ---- the vocabulary ------------------------------------------------------------------

    /// `W·x` (`[W.rows]` per row).
    pub fn matmul(&mut self, w: &Mat, x: Val) -> Val {
        assert_eq!(w.cols, x.width(), "matmul input width");
        let y = self.alloc_like(x, w.rows);
        self.push(Op::MatMul { w: w.id, x, y });
        y
    }

    /// `W·x + b` when a bias is present.
    pub fn linear(&mut self, w: &Mat, b: Option<&Vector>, x: Val) -> Val {
        let y = self.matmul(w, x);
        if let Some(b) = b {
            self.push(Op::AddBias { y, b: b.id });
        }
        y
    }

    /// `W·x + B·(A·x)` (a LoRA adapter on top of a shared matrix), or `W·x` without one.
    pub fn matmul_lora(&mut self, w: &Mat, lora: Option<&(Mat, Mat)>, x: Val) -> Val {
        let y = self.matmul(w, x);
        if let Some((a, b)) = lora {
            let low = self.matmul(a, x);
            let delta = self.matmul(b, low);
            self.push(Op::AddInPlace { acc: y, x: delta });
        }
        y
    }

    /// Expert `e` of `route`'s `slot` applied to each row: `W[e]·x`.
    pub fn expert_matmul(&mut self, w: &Mat, x: Val, route: Val, slot: usize) -> Val {
        assert_eq!(w.cols, x.width(), "expert matmul input width");
        let y = self.alloc_like(x, w.rows);
        self.push(Op::ExpertMatMul {
            w: w.id,
            x,
            y,
            route,
            slot,
        });
        y
    }

    pub fn rms_norm(&mut self, x: Val, w: Option<&Vector>, eps: f32) -> Val {
        let y = self.alloc_like(x, x.width());
        self.push(Op::RmsNorm {
            x,
            y,
            w: w.map(|w| w.id),
            eps,
        });
        y
    }

    pub fn gated_rms_norm(&mut self, x: Val, z: Val, w: &Vector, group: usize, eps: f32) -> Val {
        let y = self.alloc_like(x, x.width());
        self.push(Op::GatedRmsNorm {
            x,
            z,
            y,
            w: w.id,
            group,
            eps,
        });
        y
    }

    pub fn conv1d_silu(
        &mut self,
        x: Val,
        w: WeightId,
        b: Option<WeightId>,
        state: StateRange,
    ) -> Val {
        let y = self.alloc_like(x, x.width());
        self.push(Op::Conv1dSilu { x, y, w, b, state });
        y
    }

    /// In place on `x`: `max(softplus(x + bias), min)`.
    pub fn softplus(&mut self, x: Val, bias: Option<&Vector>, min: Option<f32>) -> Val {
        self.push(Op::Softplus {
            x,
            bias: bias.map(|b| b.id),
            min,
        });
        x
    }

    pub fn silu_mul(&mut self, gate: Val, up: Val) -> Val {
        let y = self.alloc_like(up, up.width());
        self.push(Op::SiluMul { gate, up, y });
        y
    }

    pub fn gelu_mul(&mut self, gate: Val, up: Val) -> Val {
        let y = self.alloc_like(up, up.width());
        self.push(Op::GeluMul { gate, up, y });
        y
    }

    /// In place rotary embedding of `x` viewed as `[heads, head_dim]`.
    pub fn rope(&mut self, x: Val, heads: usize, theta: f32, layout: RopeLayout) -> Val {
        let head_dim = x.width() / heads;
        self.push(Op::Rope {
            x,
            heads,
            head_dim,
            theta,
            layout,
        });
        x
    }

    pub fn add(&mut self, a: Val, b: Val) -> Val {
        let y = self.alloc_like(a, a.width());
        self.push(Op::Add { a, b, y });
        y
    }

    pub fn add_in_place(&mut self, acc: Val, x: Val) {
        self.push(Op::AddInPlace { acc, x });
    }

    /// `[a | b]` as one value.
    pub fn concat(&mut self, a: Val, b: Val) -> Val {
        let y = self.alloc_like(a, a.width() + b.width());
        let [ya, yb] = self.split(y, [a.width(), b.width()]);
        self.push(Op::Copy { x: a, y: ya });
        self.push(Op::Copy { x: b, y: yb });
        y
    }

    /// A per-token value of zeros.
    pub fn zeros_like(&mut self, like: Val) -> Val {
        let y = self.alloc_like(like, like.width());
        self.push(Op::Zero { y });
        y
    }

    /// Mamba-1 selective scan; `y` has `x`'s width.
    pub fn ssm_scan1(&mut self, s: Scan) -> Val {
        let y = self.alloc_like(s.x, s.x.width());
        self.push(Op::SsmScan1 {
            x: s.x,
            dt: s.dt,
            b: s.b,
            c: s.c,
            y,
            a: s.a,
            d: s.d,
            state: s.state,
        });
        y
    }

    /// Mamba-2 scan over `heads` heads and `groups` B/C groups; `y` has `x`'s width.
    pub fn ssm_scan2(&mut self, s: Scan, heads: usize, groups: usize) -> Val {
        let y = self.alloc_like(s.x, s.x.width());
        self.push(Op::SsmScan2 {
            x: s.x,
            dt: s.dt,
            b: s.b,
            c: s.c,
            y,
            a: s.a,
            d: s.d,
            state: s.state,
            heads,
            groups,
        });
        y
    }

    /// Softmax over the experts' logits, top `k`: `[w_0..w_{k-1}, e_0..e_{k-1}]` per row.
    pub fn moe_route(&mut self, logits: Val, k: usize) -> Val {
        let route = self.alloc_like(logits, 2 * k);
        self.push(Op::MoeRoute { logits, route, k });
        route
    }

    /// `acc += w_slot · x`.
    pub fn scale_add(&mut self, acc: Val, x: Val, route: Val, slot: usize) {
        self.push(Op::ScaleAdd {
            acc,
            x,
            route,
            slot,
        });
    }

    /// Causal attention with the row's k, v appended to ring `kv` first (see [`Op::Attend`]).
    pub fn attend(&mut self, kv: usize, qkv: [Val; 3], shape: AttnShape) -> Val {
        let [q, k, v] = qkv;
        let y = self.alloc_like(q, q.width());
        self.push(Op::Attend {
            q,
            k,
            v,
            y,
            kv,
            heads: shape.heads,
            kv_heads: shape.kv_heads,
            head_dim: shape.head_dim,
            scale: shape.scale,
        });
        y
    }

    // ---- compilation ---------------------------------------------------------------------

    /// Places every value in the arena and resolves the ops; `output` is the logits value.
    pub fn finish(mut self, output: Val) -> Program {
        let end = self.ops.len();
        let out = &mut self.values[output.value as usize];
        out.last = end;
        self.values[0].first = 0;
        let (offsets, arena_len) = place(&self.values, self.rows);
        let rows = self.rows;
        let values = &self.values;
        let resolve = |v: Val| {
            let value = &values[v.value as usize];
            Buf {
                off: offsets[v.value as usize] + v.col as usize,
                stride: value.width,
                width: v.width as usize,
                rows: v.rows,
            }
        };
        let ops: Vec<Op<Buf>> = self.ops.into_iter().map(|op| op.map(resolve)).collect();
        for op in &ops {
            check_disjoint(op, rows);
        }
        Program {
            ops,
            rows,
            arena_len,
            input: resolve(self.input),
            output: resolve(output),
            state: self.state,
        }
    }
}

/// First-fit placement of values by liveness: two values alive at the same op never overlap.
fn place(values: &[Value], rows: usize) -> (Vec<usize>, usize) {
    let mut order: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].first != usize::MAX)
        .collect();
    order.sort_by_key(|&i| (values[i].first, i));
    let size = |v: &Value| {
        let n = v.width * if v.per_token { rows } else { 1 };
        n.div_ceil(ALIGN) * ALIGN
    };
    let mut offsets = vec![0; values.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut arena_len = 0;
    for &i in &order {
        let v = &values[i];
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| values[j].first <= v.last && v.first <= values[j].last)
            .map(|&j| (offsets[j], offsets[j] + size(&values[j])))
            .collect();
        busy.sort_unstable();
        let need = size(v);
        let mut at = 0;
        for (start, stop) in busy {
            if start >= at + need {
                break;
            }
            at = at.max(stop);
        }
        offsets[i] = at;
        arena_len = arena_len.max(at + need);
        placed.push(i);
    }
    (offsets, arena_len)
}

/// The backend borrows an op's output mutably and its inputs immutably from one arena; the
/// placement guarantees they never overlap. A violation is a bug in a lowering, caught here.
fn check_disjoint(op: &Op<Buf>, rows: usize) {
    let mut out = None;
    op.for_each(|role, b| {
        if role == Role::Write {
            out = Some(b.span(rows));
        }
    });
    let out = out.expect("every op writes one buffer");
    op.for_each(|role, b| {
        if role == Role::Read {
            let r = b.span(rows);
            assert!(
                r.end <= out.start || out.end <= r.start,
                "op {op:?} reads a buffer overlapping its output"
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mat(id: u32, rows: usize, cols: usize) -> Mat {
        Mat {
            id: WeightId(id),
            rows,
            cols,
            experts: 1,
        }
    }

    #[test]
    fn values_that_are_not_alive_together_share_memory() {
        let mut p = ProgramBuilder::new(4, 8);
        let x = p.input();
        let a = p.matmul(&mat(0, 64, 8), x); // a dies at the next op
        let b = p.matmul(&mat(1, 8, 64), a);
        let c = p.matmul(&mat(2, 64, 8), b); // may reuse a's memory
        let out = p.matmul(&mat(3, 8, 64), c);
        let prog = p.finish(out);
        let offs: Vec<usize> = prog
            .ops
            .iter()
            .map(|op| match op {
                Op::MatMul { y, .. } => y.off,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(offs[0], offs[2], "a and c are never alive together");
        // input (4·8=32) + a (4·64=256) + b (32): the peak, nothing more.
        assert_eq!(prog.arena_len, 32 + 256 + 32);
    }

    #[test]
    fn output_and_inputs_of_one_op_never_overlap() {
        let mut p = ProgramBuilder::new(3, 16);
        let x = p.input();
        let n = p.rms_norm(x, None, 1e-5);
        let y = p.add(n, x);
        let z = p.add(y, n);
        let prog = p.finish(z);
        for op in &prog.ops {
            check_disjoint(op, 3);
        }
        assert_eq!(prog.output.width, 16);
    }
}
