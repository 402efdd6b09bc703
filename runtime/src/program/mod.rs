//! A model lowered into a flat list of [`Op`]s over buffers of one preallocated f32 arena.
//!
//! The architecture files describe each block with a [`ProgramBuilder`]; the builder assigns
//! arena offsets by liveness (buffers that are never alive together share memory) and records
//! the recurrent state and KV rings the ops touch. A backend interprets the result; nothing in a
//! Program allocates when it runs.
//!
//! One Program serves `n ≤ rows` tokens: a buffer is either per-token (`Rows::All`, `n` rows of
//! `stride` floats) or single-row (`Rows::One`), and `Rows::Last` addresses the last token's row
//! of a per-token buffer (the prefill's output head).

mod builder;
mod op;
mod place;
mod vocab;

pub use builder::{ProgramBuilder, Val};
pub use op::{Op, Role, RopeLayout};
pub use vocab::{AttnShape, Scan};

use std::ops::Range;

/// Which rows of a buffer an op touches when a Program runs over `n` tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rows {
    /// One row per token: `n` rows.
    All,
    /// Only the last token's row of a per-token buffer.
    Last,
    /// A single-row buffer.
    One,
}

/// A resolved view into the arena: `width` floats per row, rows `stride` floats apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buf {
    pub off: usize,
    pub stride: usize,
    pub width: usize,
    pub rows: Rows,
}

impl Buf {
    /// Rows of this view when the Program runs over `n` tokens.
    pub fn row_count(&self, n: usize) -> usize {
        match self.rows {
            Rows::All => n,
            Rows::Last | Rows::One => 1,
        }
    }

    /// Arena range of row `r` (0-based among [`Buf::row_count`]) for a run over `n` tokens.
    pub fn row(&self, r: usize, n: usize) -> Range<usize> {
        let start = match self.rows {
            Rows::All => self.off + r * self.stride,
            Rows::Last => self.off + (n - 1) * self.stride,
            Rows::One => self.off,
        };
        start..start + self.width
    }

    /// The arena range spanned by all rows of this view for a run over `n` tokens.
    pub fn span(&self, n: usize) -> Range<usize> {
        let rows = self.row_count(n);
        let first = self.row(0, n);
        first.start..first.start + (rows - 1) * self.stride + self.width
    }

    /// Whether rows are packed back to back (a dense `[rows, width]` matrix).
    pub fn is_dense(&self) -> bool {
        self.stride == self.width || self.rows != Rows::All
    }
}

/// Index of a weight in the model's weight table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeightId(pub u32);

/// A range of the session's recurrent-state buffer (conv or SSM state of one layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRange {
    pub off: usize,
    pub len: usize,
}

impl StateRange {
    pub fn range(&self) -> Range<usize> {
        self.off..self.off + self.len
    }
}

/// One KV ring the Program appends to: `width` = kv heads × head dim floats per position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvSpec {
    pub width: usize,
}

/// The state a Program reads and writes besides the arena; identical for the decode and the
/// prefill Program of one session (checked when the session is built).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateLayout {
    /// Floats of conv + SSM state.
    pub recurrent_len: usize,
    /// One entry per attention call site.
    pub kv: Vec<KvSpec>,
}

/// A compiled Program.
#[derive(Clone, Debug)]
pub struct Program {
    pub ops: Vec<Op<Buf>>,
    /// Most tokens one run may process.
    pub rows: usize,
    /// Floats of arena the Program needs.
    pub arena_len: usize,
    /// Where the session writes the input embeddings (`[n, n_embd]`) before a run.
    pub input: Buf,
    /// The logits after a run (`[rows, n_vocab]`, all tokens or only the last).
    pub output: Buf,
    pub state: StateLayout,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_row_addresses_the_final_token() {
        let b = Buf {
            off: 10,
            stride: 8,
            width: 4,
            rows: Rows::Last,
        };
        assert_eq!(b.row(0, 3), 26..30);
        assert_eq!(b.span(3), 26..30);
        let all = Buf {
            rows: Rows::All,
            ..b
        };
        assert_eq!(all.span(3), 10..30);
        assert_eq!(all.row(1, 3), 18..22);
    }
}
