//! Feed-forward blocks: SwiGLU MLP (Llama, Jamba dense layers) and Jamba's mixture of experts
//! (SPEC §3.6: softmax over all experts, top-k, no renormalisation).

use super::weights::{Binder, Mat};
use crate::error::ModelError;
use crate::program::{ProgramBuilder, Val};

#[derive(Clone, Debug)]
pub enum Ffn {
    /// `down(silu(gate·x) ⊙ up·x)`.
    Dense { gate: Mat, up: Mat, down: Mat },
    /// `Σ_j w_j · Expert_{e_j}(x)` over the top `k` experts of `softmax(router·x)`.
    Moe {
        router: Mat,
        gate: Mat,
        up: Mat,
        down: Mat,
        k: usize,
    },
}

pub fn bind_dense(
    b: &mut Binder,
    n_embd: usize,
    n_ff: usize,
    blk: &str,
) -> Result<Ffn, ModelError> {
    Ok(Ffn::Dense {
        gate: b.matrix(&format!("{blk}.ffn_gate.weight"), n_ff, n_embd)?,
        up: b.matrix(&format!("{blk}.ffn_up.weight"), n_ff, n_embd)?,
        down: b.matrix(&format!("{blk}.ffn_down.weight"), n_embd, n_ff)?,
    })
}

/// Experts stacked as llama.cpp stores them (`ffn_{gate,up,down}_exps`).
pub fn bind_moe(
    b: &mut Binder,
    n_embd: usize,
    n_ff: usize,
    (n_expert, k): (usize, usize),
    blk: &str,
) -> Result<Ffn, ModelError> {
    Ok(Ffn::Moe {
        router: b.matrix(&format!("{blk}.ffn_gate_inp.weight"), n_expert, n_embd)?,
        gate: b.experts(
            &format!("{blk}.ffn_gate_exps.weight"),
            n_ff,
            n_embd,
            n_expert,
        )?,
        up: b.experts(&format!("{blk}.ffn_up_exps.weight"), n_ff, n_embd, n_expert)?,
        down: b.experts(
            &format!("{blk}.ffn_down_exps.weight"),
            n_embd,
            n_ff,
            n_expert,
        )?,
        k,
    })
}

/// The block applied to the normalised input `x` `[E]` → `[E]`.
pub fn lower(p: &mut ProgramBuilder, w: &Ffn, x: Val) -> Val {
    match w {
        Ffn::Dense { gate, up, down } => {
            let g = p.matmul(gate, x); //    [F]
            let u = p.matmul(up, x); //      [F]
            let h = p.silu_mul(g, u); //     silu(g) ⊙ u
            p.matmul(down, h) //             [E]
        }
        Ffn::Moe {
            router,
            gate,
            up,
            down,
            k,
        } => {
            let logits = p.matmul(router, x); //          [n_expert]
            let route = p.moe_route(logits, *k); //       top-k of softmax, weights not renormalised
            let out = p.zeros_like(x); //                 [E]
            for slot in 0..*k {
                let g = p.expert_matmul(gate, x, route, slot);
                let u = p.expert_matmul(up, x, route, slot);
                let h = p.silu_mul(g, u);
                let y = p.expert_matmul(down, h, route, slot);
                p.scale_add(out, y, route, slot); //      out += w_slot · y
            }
            out
        }
    }
}
