//! The operations a Program is made of. `B` is the buffer reference: a builder value while the
//! Program is being described, an arena [`super::Buf`] once compiled.
//!
//! Every op writes exactly one arena buffer (its output, possibly in place) and reads others
//! that never overlap it; recurrent state and KV rings live outside the arena.

use super::{StateRange, WeightId};

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeLayout {
    /// Pairs (i, i + d/2): Hugging Face `rotate_half` (GPT-NeoX).
    Neox,
    /// Pairs (2i, 2i + 1): llama.cpp's "normal" mode (Llama files after the q/k permutation).
    Adjacent,
}

/// An operation over `n` token rows (or one row where its output is single-row).
#[derive(Clone, Debug, PartialEq)]
pub enum Op<B> {
    /// `y = W·x` for every row; `W` is `[y.width, x.width]`.
    MatMul { w: WeightId, x: B, y: B },
    /// `y = W[e]·x` where `e` is the expert in slot `slot` of the row's route (see `MoeRoute`).
    ExpertMatMul {
        w: WeightId,
        x: B,
        y: B,
        route: B,
        slot: usize,
    },
    /// `y += b` for every row.
    AddBias { y: B, b: WeightId },
    /// `y = w ⊙ x / sqrt(mean(x²) + eps)` (no weight: plain normalisation).
    RmsNorm {
        x: B,
        y: B,
        w: Option<WeightId>,
        eps: f32,
    },
    /// `y = w ⊙ groupnorm(x ⊙ silu(z))` over groups of `group` floats (SPEC §0.4).
    GatedRmsNorm {
        x: B,
        z: B,
        y: B,
        w: WeightId,
        group: usize,
        eps: f32,
    },
    /// Depthwise causal conv over the rows in order, carrying `state` (the last K inputs per
    /// channel), followed by SiLU (SPEC §0.5-0.6).
    Conv1dSilu {
        x: B,
        y: B,
        w: WeightId,
        b: Option<WeightId>,
        state: StateRange,
    },
    /// In place: `x = max(softplus(x + bias), min)`.
    Softplus {
        x: B,
        bias: Option<WeightId>,
        min: Option<f32>,
    },
    /// Mamba-1 selective scan over the rows in order (SPEC §1.4 steps 7-9): per-channel `dt`,
    /// `A` `[I, N]`, `D` `[I]`; `y = h·C + D⊙x`.
    SsmScan1 {
        x: B,
        dt: B,
        b: B,
        c: B,
        y: B,
        a: WeightId,
        d: WeightId,
        state: StateRange,
    },
    /// Mamba-2 scan over the rows in order (SPEC §2.5 steps 5-8): per-head `dt`, `A`, `D`;
    /// `B`, `C` per group.
    SsmScan2 {
        x: B,
        dt: B,
        b: B,
        c: B,
        y: B,
        a: WeightId,
        d: WeightId,
        state: StateRange,
        heads: usize,
        groups: usize,
    },
    /// `y = silu(gate) ⊙ up`.
    SiluMul { gate: B, up: B, y: B },
    /// `y = gelu_erf(gate) ⊙ up`.
    GeluMul { gate: B, up: B, y: B },
    /// In place rotary embedding of `heads` heads at the row's absolute position.
    Rope {
        x: B,
        heads: usize,
        head_dim: usize,
        theta: f32,
        layout: RopeLayout,
    },
    /// Row by row: append the row's `k`, `v` to ring `kv`, then causal softmax attention of
    /// `q` over the ring (GQA: query head h reads kv head `h / (heads / kv_heads)`).
    Attend {
        q: B,
        k: B,
        v: B,
        y: B,
        kv: usize,
        heads: usize,
        kv_heads: usize,
        head_dim: usize,
        scale: f32,
    },
    /// `route = [w_0..w_{k-1}, e_0..e_{k-1}]`: softmax over all experts, then the top `k`
    /// probabilities (not renormalised) and their expert ids (stored as f32).
    MoeRoute { logits: B, route: B, k: usize },
    /// `acc += w_slot ⊙ x` with the route's weight of `slot`.
    ScaleAdd { acc: B, x: B, route: B, slot: usize },
    /// `y = a + b`.
    Add { a: B, b: B, y: B },
    /// `acc += x`.
    AddInPlace { acc: B, x: B },
    /// `y = x`.
    Copy { x: B, y: B },
    /// `y = 0`.
    Zero { y: B },
}

/// Whether an op reads or writes a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Read,
    /// The op's single output (written, possibly after reading it in place).
    Write,
}

impl<B> Op<B> {
    /// Whether the op reads its output buffer before writing it (an in-place update).
    pub fn updates_in_place(&self) -> bool {
        matches!(
            self,
            Op::AddBias { .. }
                | Op::Softplus { .. }
                | Op::Rope { .. }
                | Op::ScaleAdd { .. }
                | Op::AddInPlace { .. }
        )
    }

    /// Calls `f` on every buffer the op references.
    pub fn for_each(&self, mut f: impl FnMut(Role, &B)) {
        use Role::{Read as R, Write as W};
        match self {
            Op::MatMul { x, y, .. } => {
                f(R, x);
                f(W, y);
            }
            Op::ExpertMatMul { x, y, route, .. } => {
                f(R, x);
                f(R, route);
                f(W, y);
            }
            Op::AddBias { y, .. } | Op::Softplus { x: y, .. } | Op::Rope { x: y, .. } => f(W, y),
            Op::Zero { y } => f(W, y),
            Op::RmsNorm { x, y, .. } | Op::Copy { x, y } | Op::Conv1dSilu { x, y, .. } => {
                f(R, x);
                f(W, y);
            }
            Op::GatedRmsNorm { x, z, y, .. } => {
                f(R, x);
                f(R, z);
                f(W, y);
            }
            Op::SsmScan1 { x, dt, b, c, y, .. } | Op::SsmScan2 { x, dt, b, c, y, .. } => {
                f(R, x);
                f(R, dt);
                f(R, b);
                f(R, c);
                f(W, y);
            }
            Op::SiluMul { gate, up, y } | Op::GeluMul { gate, up, y } => {
                f(R, gate);
                f(R, up);
                f(W, y);
            }
            Op::Attend { q, k, v, y, .. } => {
                f(R, q);
                f(R, k);
                f(R, v);
                f(W, y);
            }
            Op::MoeRoute { logits, route, .. } => {
                f(R, logits);
                f(W, route);
            }
            Op::ScaleAdd { acc, x, route, .. } => {
                f(R, x);
                f(R, route);
                f(W, acc);
            }
            Op::Add { a, b, y } => {
                f(R, a);
                f(R, b);
                f(W, y);
            }
            Op::AddInPlace { acc, x } => {
                f(R, x);
                f(W, acc);
            }
        }
    }

    /// The same op over other buffer references.
    pub fn map<C>(self, mut f: impl FnMut(B) -> C) -> Op<C> {
        match self {
            Op::MatMul { w, x, y } => Op::MatMul {
                w,
                x: f(x),
                y: f(y),
            },
            Op::ExpertMatMul {
                w,
                x,
                y,
                route,
                slot,
            } => Op::ExpertMatMul {
                w,
                x: f(x),
                y: f(y),
                route: f(route),
                slot,
            },
            Op::AddBias { y, b } => Op::AddBias { y: f(y), b },
            Op::RmsNorm { x, y, w, eps } => Op::RmsNorm {
                x: f(x),
                y: f(y),
                w,
                eps,
            },
            Op::GatedRmsNorm {
                x,
                z,
                y,
                w,
                group,
                eps,
            } => Op::GatedRmsNorm {
                x: f(x),
                z: f(z),
                y: f(y),
                w,
                group,
                eps,
            },
            Op::Conv1dSilu { x, y, w, b, state } => Op::Conv1dSilu {
                x: f(x),
                y: f(y),
                w,
                b,
                state,
            },
            Op::Softplus { x, bias, min } => Op::Softplus { x: f(x), bias, min },
            Op::SsmScan1 {
                x,
                dt,
                b,
                c,
                y,
                a,
                d,
                state,
            } => Op::SsmScan1 {
                x: f(x),
                dt: f(dt),
                b: f(b),
                c: f(c),
                y: f(y),
                a,
                d,
                state,
            },
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
            } => Op::SsmScan2 {
                x: f(x),
                dt: f(dt),
                b: f(b),
                c: f(c),
                y: f(y),
                a,
                d,
                state,
                heads,
                groups,
            },
            Op::SiluMul { gate, up, y } => Op::SiluMul {
                gate: f(gate),
                up: f(up),
                y: f(y),
            },
            Op::GeluMul { gate, up, y } => Op::GeluMul {
                gate: f(gate),
                up: f(up),
                y: f(y),
            },
            Op::Rope {
                x,
                heads,
                head_dim,
                theta,
                layout,
            } => Op::Rope {
                x: f(x),
                heads,
                head_dim,
                theta,
                layout,
            },
            Op::Attend {
                q,
                k,
                v,
                y,
                kv,
                heads,
                kv_heads,
                head_dim,
                scale,
            } => Op::Attend {
                q: f(q),
                k: f(k),
                v: f(v),
                y: f(y),
                kv,
                heads,
                kv_heads,
                head_dim,
                scale,
            },
            Op::MoeRoute { logits, route, k } => Op::MoeRoute {
                logits: f(logits),
                route: f(route),
                k,
            },
            Op::ScaleAdd {
                acc,
                x,
                route,
                slot,
            } => Op::ScaleAdd {
                acc: f(acc),
                x: f(x),
                route: f(route),
                slot,
            },
            Op::Add { a, b, y } => Op::Add {
                a: f(a),
                b: f(b),
                y: f(y),
            },
            Op::AddInPlace { acc, x } => Op::AddInPlace {
                acc: f(acc),
                x: f(x),
            },
            Op::Copy { x, y } => Op::Copy { x: f(x), y: f(y) },
            Op::Zero { y } => Op::Zero { y: f(y) },
        }
    }
}
