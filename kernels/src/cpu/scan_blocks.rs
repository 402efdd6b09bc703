//! The block structure of the factored Mamba-2 prefill scan that the SIMD row kernels share
//! (AVX-512, AVX2, NEON): SSD's chunk form (SPEC.md §2.6) done as a recurrence.
//!
//! Within a block, with c_k = Π exp(dt·a) over the block's tokens after its first, the state
//! entering the block decayed by its first token, and u_k = dt_k·x_k·B_k,
//!
//!   s_k = c_k · s'_k,   s'_k = s'_(k−1) + u_k / c_k,   y_k = c_k · (s'_k · C_k) + D·x_k,
//!
//! so a token costs each state vector two FMAs (update, contraction) where the plain
//! recurrence spends a multiply by the decay, a multiply, an add and an FMA. A block ends
//! after [`SCAN_BLOCK`] tokens or before c would drop below e^−[`LIM`], which keeps 1/c far
//! from overflow; its state is then multiplied by its last c. The result equals the recurrence
//! up to f32 rounding (`tests/simd_ops.rs` bounds it against an f64 recurrence), not bit for
//! bit.

use super::ssm::{Mamba2Head, SCAN_BLOCK, Strided};

/// A block's decay since its first token stays ≥ e^−LIM, so 1/c ≤ e^LIM ≈ 8·10^12.
const LIM: f32 = 30.0;

/// Where a chunk of columns lies in its row, for the kernels that cut rows into chunks (AVX2,
/// NEON): it decides what the chunk does with its part of the contraction, keep it in the
/// block's partial sums (`FIRST`, `MID`) or finish y with it (`LAST`, or `ONLY` when one chunk
/// spans the row).
pub(crate) const ONLY: u8 = 0;
pub(crate) const FIRST: u8 = 1;
pub(crate) const MID: u8 = 2;
pub(crate) const LAST: u8 = 3;

/// The position ([`ONLY`] …) of the chunk of width `w` at column `n0` of an `n`-wide row.
pub(crate) fn chunk_pos(n0: usize, w: usize, n: usize) -> u8 {
    match (n0 == 0, n0 + w == n) {
        (true, true) => ONLY,
        (true, false) => FIRST,
        (false, false) => MID,
        (false, true) => LAST,
    }
}

/// One block's inputs as the row kernels read them.
#[derive(Clone, Copy)]
pub(crate) struct ScanBlock<'a> {
    pub x: Strided<'a>,
    pub c: Strided<'a>,
    /// The block's tokens of the head: `t0..t1`.
    pub t0: usize,
    pub t1: usize,
    /// dt·B/c per token of the block, `n` floats each.
    pub dtb: &'a [f32],
    /// c per token of the block.
    pub scale: &'a [f32],
    /// exp(dt·a) of the block's first token: the entering state's decay.
    pub first: f32,
    pub d: f32,
    pub p: usize,
}

/// Cuts the head's `t` tokens into blocks, fills each block's dt·B/c and c into `scratch`
/// (`min(t, SCAN_BLOCK) · (n + 1)` floats, checked by the caller) and runs `rows(state, block,
/// y)` on it, block after block.
pub(crate) fn for_each_block(
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
    mut rows: impl FnMut(&mut [f32], ScanBlock, &mut [f32]),
) {
    let Mamba2Head {
        x,
        dt,
        b,
        c,
        a,
        d,
        p,
        t,
    } = head;
    let n = state.len() / p;
    let tb = t.min(SCAN_BLOCK);
    let (dtb, scale) = scratch[..tb * (n + 1)].split_at_mut(tb * n);
    let mut t0 = 0;
    while t0 < t {
        let first = (dt.row(t0, 1)[0] * a).exp();
        // log c of the block's tokens; the first's is 0.
        let (mut log_c, mut t1) = (0.0f32, t0);
        while t1 < t && t1 - t0 < SCAN_BLOCK {
            let dti = dt.row(t1, 1)[0];
            if t1 > t0 {
                let next = log_c + dti * a;
                if next < -LIM {
                    break;
                }
                log_c = next;
            }
            let k = t1 - t0;
            scale[k] = log_c.exp();
            let f = dti * (-log_c).exp();
            for (o, &bv) in dtb[k * n..(k + 1) * n].iter_mut().zip(b.row(t1, n)) {
                *o = f * bv;
            }
            t1 += 1;
        }
        let block = ScanBlock {
            x,
            c,
            t0,
            t1,
            dtb,
            scale,
            first,
            d,
            p,
        };
        rows(state, block, y);
        t0 = t1;
    }
}
