//! [`ProgramBuilder`]: the vocabulary architecture files lower their blocks with.
//!
//! Every op result is a fresh value; values are placed in the arena at [`ProgramBuilder::finish`]
//! by liveness (first-fit over the values alive at the same time), so a 40-layer model needs
//! about one layer's worth of activations.

use super::place::{check_disjoint, place};
use super::{Buf, KvSpec, Op, Program, Role, Rows, StateLayout, StateRange};

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

pub(super) struct Value {
    pub(super) width: usize,
    pub(super) per_token: bool,
    pub(super) first: usize,
    pub(super) last: usize,
}

/// Arena offsets are rounded to this many floats (64 bytes) for vector loads.
pub(super) const ALIGN: usize = 16;

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
    pub(super) fn alloc_like(&mut self, like: Val, width: usize) -> Val {
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
        // A norm's or a GLU product's inputs stay alive through the next two ops, so that a
        // backend may fuse the norm or product into a matvec and its residual add (the GPU
        // matvec prologue reads them while it writes the matvec's and the add's outputs).
        let fusable = matches!(
            op,
            Op::RmsNorm { .. } | Op::GatedRmsNorm { .. } | Op::SiluMul { .. } | Op::GeluMul { .. }
        );
        let keep = 2 * fusable as usize;
        op.for_each(|role, v| {
            let value = &mut values[v.value as usize];
            value.first = value.first.min(at);
            let until = if role == Role::Read { at + keep } else { at };
            value.last = value.last.max(until);
        });
        self.ops.push(op);
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
