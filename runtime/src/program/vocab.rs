//! The vocabulary architecture files lower their blocks with: one method per op kind, each
//! returning the value it defines (or the value it updated in place).

use super::builder::{ProgramBuilder, Val};
use super::op::RopeLayout;
use super::{Op, StateRange, WeightId};
use crate::model::weights::{Mat, Vector};

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

impl ProgramBuilder {
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
}
