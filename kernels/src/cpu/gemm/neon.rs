//! NEON + dotprod tiles: R weight rows × 4 tokens, the tokens in the 4 int32 lanes of a q
//! register, run four times per 16-token group of the packed activations (each packed 64-byte
//! vector holds tokens 0-3, 4-7, 8-11, 12-15 in its 16-byte quarters). SDOT multiplies s8 by
//! s8, so the activations are packed as they are and the weight's 4 bytes, broadcast to every
//! lane (`ld1r`), meet the tokens' 4 quants directly: Q8_0 quants as s8, Q4_0 nibbles (0-15,
//! w + 8) onto −8·Σx. Block sums are exact and the f32 work is the reference's (`acc +=
//! (d_w·d_x)·f32(sum)`, no fused multiply-add), so the results equal the scalar reference bit
//! for bit, like the x86 tiles'. Not timed: there is no ARM hardware here; each SDOT does the
//! 16 products that the per-token kernel spends an SDOT and a quarter of its f32 work on.

use std::arch::aarch64::*;

use super::{LANES, Packed, QK, R, block_bytes, tile_rows};
use crate::GgmlType;
use crate::cpu::arm::{block_scale, sdot};
use crate::cpu::matvec::WeightView;

/// Tokens per vector.
const QUARTER: usize = 4;

/// The row tile's scales as f32 ([`super::PrepFn`]; no sums needed).
///
/// # Safety
/// None beyond [`super::PrepFn`]'s (NEON only, baseline on aarch64).
pub(super) unsafe fn prep(
    w: &WeightView,
    r0: usize,
    nb: usize,
    _wsum: &mut [i32],
    wscale: &mut [f32],
) {
    let (rb, bb) = (w.row_bytes(), block_bytes(w.ty == GgmlType::Q4_0));
    assert_eq!(rb, nb * bb);
    for (k, row) in tile_rows(w, r0).into_iter().enumerate() {
        for b in 0..nb {
            // SAFETY: block b's two scale bytes lie in `row` (rb = nb·bb); NEON is baseline.
            wscale[b * R + k] = unsafe { block_scale(row[b * bb..b * bb + 2].as_ptr()) };
        }
    }
}

/// `out[l][k]` = row `r0 + k` · token `16g + l` (rows past the end repeat the last row), 4
/// tokens at a time; the row tile's scales are the block's `slot`.
///
/// # Safety
/// NEON and dotprod present; as [`super::TileFn`], with the activations packed unflipped.
#[target_feature(enable = "neon,dotprod")]
#[inline]
pub(super) unsafe fn tile<const Q4: bool>(
    w: &WeightView,
    r0: usize,
    pk: &Packed,
    slot: usize,
    g: usize,
    out: &mut [[f32; R]; LANES],
) {
    let nb = pk.nb;
    let wscale = &pk.wscale[pk.tile_range(slot)];
    let bb = block_bytes(Q4);
    let rows = tile_rows(w, r0).map(<[u8]>::as_ptr);
    let gb = g * nb;
    let m4 = vdupq_n_u8(0x0f);
    for quarter in 0..LANES / QUARTER {
        // SAFETY (all loads below): block b < nb of group g < groups is inside the packed
        // buffers (`pack` checked the capacity), its quarter 16 bytes into each 64-byte vector,
        // and block b of every row (nb · bb == rb; 4 bytes at 4j < 32 past its scale).
        unsafe {
            let xs = pk.xs.as_ptr().add(gb * LANES * QK + quarter * QUARTER * 4);
            let sums = pk.sums.as_ptr().add(gb * LANES + quarter * QUARTER);
            let ds = pk.d.as_ptr().add(gb * LANES + quarter * QUARTER);
            let mut acc = [vdupq_n_f32(0.0); R];
            for b in 0..nb {
                let xb = xs.add(b * 8 * LANES * 4);
                let x = |j: usize| vld1q_s8(xb.add(j * LANES * 4));
                let dx = vld1q_f32(ds.add(b * LANES));
                let q = rows.map(|p| p.add(b * bb + 2));
                let bcast = |p: *const u8| vreinterpretq_s8_s32(vld1q_dup_s32(p.cast()));
                let isum: [int32x4_t; R] = if Q4 {
                    let s = vshlq_n_s32::<3>(vld1q_s32(sums.add(b * LANES)));
                    let mut acc = [vnegq_s32(s); R];
                    for j in 0..4 {
                        let (xl, xh) = (x(j), x(j + 4));
                        for k in 0..R {
                            let v = vreinterpretq_u8_s8(bcast(q[k].add(4 * j)));
                            let lo = vreinterpretq_s8_u8(vandq_u8(v, m4));
                            let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(v));
                            acc[k] = sdot(sdot(acc[k], lo, xl), hi, xh);
                        }
                    }
                    acc
                } else {
                    let mut acc = [vdupq_n_s32(0); R];
                    for j in 0..8 {
                        let xj = x(j);
                        for k in 0..R {
                            acc[k] = sdot(acc[k], bcast(q[k].add(4 * j)), xj);
                        }
                    }
                    acc
                };
                for k in 0..R {
                    let dw = *wscale.get_unchecked(b * R + k);
                    // The reference's order: (d_w·d_x)·sum, then the add (not fused).
                    let p = vmulq_f32(vmulq_n_f32(dx, dw), vcvtq_f32_s32(isum[k]));
                    acc[k] = vaddq_f32(acc[k], p);
                }
            }
            for (h, rows4) in acc.chunks_exact(4).enumerate() {
                for (l, v) in transpose4([rows4[0], rows4[1], rows4[2], rows4[3]])
                    .into_iter()
                    .enumerate()
                {
                    vst1q_f32(out[quarter * QUARTER + l][4 * h..].as_mut_ptr(), v);
                }
            }
        }
    }
}

/// `a[k]` holds row k's results for 4 tokens; returns each token's 4 row results.
#[target_feature(enable = "neon")]
fn transpose4(a: [float32x4_t; 4]) -> [float32x4_t; 4] {
    let (t0, t1) = (vtrn1q_f32(a[0], a[1]), vtrn2q_f32(a[0], a[1]));
    let (t2, t3) = (vtrn1q_f32(a[2], a[3]), vtrn2q_f32(a[2], a[3]));
    let (t0, t1) = (vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t1));
    let (t2, t3) = (vreinterpretq_f64_f32(t2), vreinterpretq_f64_f32(t3));
    [
        vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)),
        vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)),
        vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)),
        vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)),
    ]
}
