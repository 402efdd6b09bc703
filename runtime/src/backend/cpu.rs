//! The CPU backend: interprets a Program op by op with the scalar kernels of `weft-kernels`.
//!
//! Each op writes one arena buffer and reads others that never overlap it (the builder checks
//! this), so the arena is split into "before", "output" and "after" with safe borrows. Scratch
//! buffers are sized when the backend is created; running never allocates.

use std::ops::Range;

use weft_kernels::cpu::{act, attn, conv, matvec, moe, norm, rope, ssm};

use crate::model::Model;
use crate::program::{Buf, Op, Program, Role, RopeLayout, Rows};
use crate::state::State;

/// Scratch space of the CPU interpreter.
#[derive(Debug)]
pub struct CpuBackend {
    scores: Vec<f32>,
    probs: Vec<f32>,
    expert_ids: Vec<usize>,
    expert_weights: Vec<f32>,
}

/// What one run works on: `n` tokens at absolute positions `pos0..pos0 + n`.
pub struct Run<'a> {
    pub model: &'a Model,
    pub arena: &'a mut [f32],
    pub state: &'a mut State,
    pub pos0: usize,
    pub n: usize,
}

impl CpuBackend {
    /// Sizes the scratch buffers for every op of `programs` and the rings of `state`.
    pub fn new(programs: &[&Program], state: &State) -> Self {
        let slots = state.kv.iter().map(|r| r.capacity()).max().unwrap_or(0);
        let (mut experts, mut k) = (0, 0);
        for op in programs.iter().flat_map(|p| &p.ops) {
            if let Op::MoeRoute { logits, k: kk, .. } = op {
                experts = experts.max(logits.width);
                k = k.max(*kk);
            }
        }
        CpuBackend {
            scores: vec![0.0; slots],
            probs: vec![0.0; experts],
            expert_ids: vec![0; k],
            expert_weights: vec![0.0; k],
        }
    }

    /// Writes the embedding rows of `tokens` into the Program's input (ids already checked).
    pub fn embed(&self, model: &Model, tokens: &[u32], input: Buf, arena: &mut [f32]) {
        let embd = model
            .plan()
            .token_embd
            .expect("the session only embeds tokens of models with a token embedding");
        let table = model.matrix(embd.id, 0);
        for (r, &t) in tokens.iter().enumerate() {
            matvec::dequantize_row_into(&table, t as usize, &mut arena[input.row(r, tokens.len())]);
        }
    }

    pub fn run(&mut self, program: &Program, run: Run) {
        let Run {
            model,
            arena,
            state,
            pos0,
            n,
        } = run;
        for op in &program.ops {
            self.exec(op, model, arena, state, pos0, n);
        }
    }

    fn exec(
        &mut self,
        op: &Op<Buf>,
        m: &Model,
        arena: &mut [f32],
        st: &mut State,
        pos0: usize,
        n: usize,
    ) {
        let mut target = None;
        op.for_each(|role, b| {
            if role == Role::Write {
                target = Some(*b);
            }
        });
        let target = target.expect("every op writes one buffer");
        let span = target.span(n);
        let (before, rest) = arena.split_at_mut(span.start);
        let (out, after) = rest.split_at_mut(span.len());
        let ins = Inputs {
            before,
            after,
            after_start: span.end,
            n,
        };
        let mut out = Output {
            slice: out,
            base: span.start,
            n,
        };
        let rows = target.row_count(n);
        let pos = |b: &Buf, r: usize| pos0 + if b.rows == Rows::All { r } else { n - 1 };

        match *op {
            Op::MatMul { w, x, y } => {
                let w = m.matrix(w, 0);
                if rows > 1 && x.is_dense() && y.is_dense() {
                    matvec::matmul(&w, ins.span(&x), rows, out.span(&y));
                } else {
                    for r in 0..rows {
                        matvec::matvec(&w, ins.row(&x, r), out.row(&y, r));
                    }
                }
            }
            Op::ExpertMatMul {
                w,
                x,
                y,
                route,
                slot,
            } => {
                for r in 0..rows {
                    let route = ins.row(&route, r);
                    let expert = route[route.len() / 2 + slot] as usize;
                    matvec::matvec(&m.matrix(w, expert), ins.row(&x, r), out.row(&y, r));
                }
            }
            Op::AddBias { y, b } => {
                let b = m.vector(b);
                for r in 0..rows {
                    out.row(&y, r).iter_mut().zip(b).for_each(|(y, b)| *y += b);
                }
            }
            Op::RmsNorm { x, y, w, eps } => {
                for r in 0..rows {
                    match w {
                        Some(w) => norm::rms_norm(ins.row(&x, r), m.vector(w), eps, out.row(&y, r)),
                        None => norm::rms_norm_no_weight(ins.row(&x, r), eps, out.row(&y, r)),
                    }
                }
            }
            Op::GatedRmsNorm {
                x,
                z,
                y,
                w,
                group,
                eps,
            } => {
                let groups = x.width / group;
                for r in 0..rows {
                    norm::gated_rms_norm(
                        ins.row(&x, r),
                        ins.row(&z, r),
                        m.vector(w),
                        groups,
                        eps,
                        out.row(&y, r),
                    );
                }
            }
            Op::Conv1dSilu { x, y, w, b, state } => {
                let (w, b) = (m.vector(w), b.map(|b| m.vector(b)));
                let state = &mut st.recurrent[state.range()];
                for r in 0..rows {
                    conv::conv1d_step_silu(state, ins.row(&x, r), w, b, out.row(&y, r));
                }
            }
            Op::Softplus { x, bias, min } => {
                let bias = bias.map(|b| m.vector(b));
                for r in 0..rows {
                    for (i, v) in out.row(&x, r).iter_mut().enumerate() {
                        let s = act::softplus(*v + bias.map_or(0.0, |b| b[i]));
                        *v = min.map_or(s, |lo| s.max(lo));
                    }
                }
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
                let (a, d) = (m.vector(a), m.vector(d));
                let state = &mut st.recurrent[state.range()];
                for r in 0..rows {
                    let (xr, dtr, br, cr) = (
                        ins.row(&x, r),
                        ins.row(&dt, r),
                        ins.row(&b, r),
                        ins.row(&c, r),
                    );
                    ssm::ssm_step_mamba1(state, xr, dtr, a, br, cr, d, out.row(&y, r));
                }
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
                let (a, d) = (m.vector(a), m.vector(d));
                let dims = ssm::Mamba2Dims {
                    nh: heads,
                    p: x.width / heads,
                    n: b.width / groups,
                    g: groups,
                };
                let state = &mut st.recurrent[state.range()];
                for r in 0..rows {
                    let (xr, dtr, br, cr) = (
                        ins.row(&x, r),
                        ins.row(&dt, r),
                        ins.row(&b, r),
                        ins.row(&c, r),
                    );
                    ssm::ssm_step_mamba2(state, xr, dtr, a, br, cr, d, dims, out.row(&y, r));
                }
            }
            Op::SiluMul { gate, up, y } => {
                for r in 0..rows {
                    act::silu_mul(ins.row(&gate, r), ins.row(&up, r), out.row(&y, r));
                }
            }
            Op::GeluMul { gate, up, y } => {
                for r in 0..rows {
                    act::gelu_mul(ins.row(&gate, r), ins.row(&up, r), out.row(&y, r));
                }
            }
            Op::Rope {
                x,
                heads,
                head_dim,
                theta,
                layout,
            } => {
                let mode = match layout {
                    RopeLayout::Neox => rope::RopeMode::Neox,
                    RopeLayout::Adjacent => rope::RopeMode::Normal,
                };
                for r in 0..rows {
                    let p = pos(&x, r) as u32;
                    rope::rope_inplace(out.row(&x, r), heads, head_dim, head_dim, p, theta, mode);
                }
            }
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
            } => {
                let ring = &mut st.kv[kv];
                for r in 0..rows {
                    ring.append(pos(&q, r), ins.row(&k, r), ins.row(&v, r));
                    let (keys, values, slots) = (ring.keys(), ring.values(), ring.filled());
                    let (qr, yr) = (ins.row(&q, r), out.row(&y, r));
                    attn::attend(
                        qr,
                        keys,
                        values,
                        slots,
                        heads,
                        kv_heads,
                        head_dim,
                        scale,
                        &mut self.scores,
                        yr,
                    );
                }
            }
            Op::MoeRoute { logits, route, k } => {
                let (ids, ws) = (&mut self.expert_ids[..k], &mut self.expert_weights[..k]);
                for r in 0..rows {
                    moe::top_k_softmax_no_renorm(ins.row(&logits, r), k, &mut self.probs, ids, ws);
                    let o = out.row(&route, r);
                    o[..k].copy_from_slice(ws);
                    o[k..]
                        .iter_mut()
                        .zip(ids.iter())
                        .for_each(|(o, &e)| *o = e as f32);
                }
            }
            Op::ScaleAdd {
                acc,
                x,
                route,
                slot,
            } => {
                for r in 0..rows {
                    let w = ins.row(&route, r)[slot];
                    out.row(&acc, r)
                        .iter_mut()
                        .zip(ins.row(&x, r))
                        .for_each(|(a, x)| *a += w * x);
                }
            }
            Op::Add { a, b, y } => {
                for r in 0..rows {
                    let (ar, br) = (ins.row(&a, r), ins.row(&b, r));
                    out.row(&y, r)
                        .iter_mut()
                        .zip(ar.iter().zip(br))
                        .for_each(|(y, (a, b))| *y = a + b);
                }
            }
            Op::AddInPlace { acc, x } => {
                for r in 0..rows {
                    out.row(&acc, r)
                        .iter_mut()
                        .zip(ins.row(&x, r))
                        .for_each(|(a, x)| *a += x);
                }
            }
            Op::Copy { x, y } => {
                for r in 0..rows {
                    out.row(&y, r).copy_from_slice(ins.row(&x, r));
                }
            }
            Op::Zero { y } => {
                for r in 0..rows {
                    out.row(&y, r).fill(0.0);
                }
            }
        }
    }
}

/// The arena outside the op's output, read-only.
struct Inputs<'a> {
    before: &'a [f32],
    after: &'a [f32],
    after_start: usize,
    n: usize,
}

impl Inputs<'_> {
    fn get(&self, r: Range<usize>) -> &[f32] {
        if r.end <= self.before.len() {
            &self.before[r]
        } else {
            &self.after[r.start - self.after_start..r.end - self.after_start]
        }
    }

    fn row(&self, b: &Buf, r: usize) -> &[f32] {
        self.get(b.row(r, self.n))
    }

    fn span(&self, b: &Buf) -> &[f32] {
        self.get(b.span(self.n))
    }
}

/// The op's output buffer.
struct Output<'a> {
    slice: &'a mut [f32],
    base: usize,
    n: usize,
}

impl Output<'_> {
    fn row(&mut self, b: &Buf, r: usize) -> &mut [f32] {
        let range = b.row(r, self.n);
        &mut self.slice[range.start - self.base..range.end - self.base]
    }

    fn span(&mut self, b: &Buf) -> &mut [f32] {
        let range = b.span(self.n);
        &mut self.slice[range.start - self.base..range.end - self.base]
    }
}
