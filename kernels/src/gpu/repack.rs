//! Weight repacking for the GPU (no GPU needed): ggml blocks are split into a quant plane and
//! a 256-byte-aligned f16 scale plane so that a kernel reads aligned `u32` words; float types
//! are copied. Q4_K / Q6_K (which the WGSL kernels do not decode) become F32, exactly.
//!
//! Quant plane: Q8_0 one byte per element, interleaved so that a kernel lane reads 16 bytes at
//! once and 32 lanes read 32 consecutive activations per byte position: each row is cut into
//! chunks of 512 columns (16 blocks; the last chunk is padded with zeros), and the 16-byte unit
//! `l` (0..32) of a chunk holds element `l` of the chunk's blocks 0..16 (byte j = block j). The
//! Q8_0 scale plane holds 16 f16 per row chunk (zeros for padding blocks): row r, block b at
//! half index `r · 16 · chunks + b`. Q4_0 the same with 16-byte units of nibble pairs: a chunk
//! of 512 columns is 256 bytes, unit `l` (0..16) holds byte `l` of the chunk's blocks 0..16
//! (byte j = block j; ggml's nibble order: low nibble element l, high nibble element l + 16),
//! and the same scale plane as Q8_0. F16/BF16 two elements per word, F32 one. The scale plane starts at `scale_off` (u32 words, 256-byte
//! aligned).
//! A matrix too large for one binding is split into shards: by rows (one expert) or by whole
//! experts (stacked expert matrices, so a kernel can pick the expert per token).

use std::ops::Range;

use crate::cpu::matvec::{WeightView, dequantize_row_into};
use crate::dtype::GgmlType;

/// Storage type on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
}

impl GpuType {
    /// How weights of `ty` are stored on the GPU.
    pub fn of(ty: GgmlType) -> Option<GpuType> {
        Some(match ty {
            GgmlType::F32 | GgmlType::Q4_K | GgmlType::Q6_K => GpuType::F32,
            GgmlType::F16 => GpuType::F16,
            GgmlType::BF16 => GpuType::BF16,
            GgmlType::Q8_0 => GpuType::Q8_0,
            GgmlType::Q4_0 => GpuType::Q4_0,
            _ => return None,
        })
    }

    /// The shader define selecting this type.
    pub fn define(self) -> &'static str {
        match self {
            GpuType::F32 => "F32",
            GpuType::F16 => "F16",
            GpuType::BF16 => "BF16",
            GpuType::Q8_0 => "Q8_0",
            GpuType::Q4_0 => "Q4_0",
        }
    }

    fn quant_bytes(self, elems: u64) -> u64 {
        match self {
            GpuType::F32 => 4 * elems,
            GpuType::F16 | GpuType::BF16 => 2 * elems,
            GpuType::Q8_0 => elems,
            GpuType::Q4_0 => elems / 2,
        }
    }

    fn is_blocked(self) -> bool {
        matches!(self, GpuType::Q8_0 | GpuType::Q4_0)
    }
}

/// Byte layout of one shard holding `elems` elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardLayout {
    /// Index (in u32 words) of the scale plane; 0 for float types.
    pub scale_off: u32,
    /// Total bytes (a multiple of 4).
    pub bytes: u64,
}

const PLANE_ALIGN: u64 = 256;

/// Columns per interleaved Q8_0 chunk (16 blocks of 32).
pub const Q8_CHUNK: usize = 512;

/// Interleaved Q8_0 chunks per row of `cols` columns.
pub fn q8_chunks(cols: usize) -> usize {
    cols.div_ceil(Q8_CHUNK)
}

/// Quant bytes of one interleaved chunk (512 columns) of a Q8_0 or Q4_0 row.
fn chunk_bytes(ty: GpuType) -> usize {
    if ty == GpuType::Q4_0 {
        Q8_CHUNK / 2
    } else {
        Q8_CHUNK
    }
}

/// The layout of a shard of `rows` rows (all experts together) of `cols` elements of type `ty`.
pub fn layout(ty: GpuType, rows: u64, cols: u64) -> ShardLayout {
    let elems = rows * cols;
    if ty.is_blocked() {
        let ch = q8_chunks(cols as usize) as u64;
        let scale_at = (rows * ch * chunk_bytes(ty) as u64).next_multiple_of(PLANE_ALIGN);
        return ShardLayout {
            scale_off: (scale_at / 4) as u32,
            bytes: scale_at + (rows * ch * 32).max(16),
        };
    }
    ShardLayout {
        scale_off: 0,
        bytes: ty.quant_bytes(elems).next_multiple_of(4).max(4),
    }
}

/// One shard: experts × rows of the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub experts: Range<usize>,
    pub rows: Range<usize>,
}

/// Splits `experts` matrices of `rows × cols` into shards of at most `max_bytes` each.
/// Returns `None` when even one row (or, for several experts, one expert) does not fit.
pub fn plan_shards(
    ty: GpuType,
    rows: usize,
    cols: usize,
    experts: usize,
    max_bytes: u64,
) -> Option<Vec<ShardSpec>> {
    let fits = |rows: u64| layout(ty, rows, cols as u64).bytes <= max_bytes;
    if experts > 1 {
        let per = (1..=experts)
            .take_while(|&e| fits(e as u64 * rows as u64))
            .last()?;
        return Some(
            (0..experts)
                .step_by(per)
                .map(|e| ShardSpec {
                    experts: e..(e + per).min(experts),
                    rows: 0..rows,
                })
                .collect(),
        );
    }
    if !fits(1) {
        return None;
    }
    // Largest row count that fits (binary search: the layout is monotone in rows).
    let (mut lo, mut hi) = (1usize, rows.max(1));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid as u64) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(
        (0..rows.max(1))
            .step_by(lo)
            .map(|r| ShardSpec {
                experts: 0..1,
                rows: r..(r + lo).min(rows),
            })
            .collect(),
    )
}

/// Repacks `shard` of the matrices `views` (one per expert, same type and shape) into `out`
/// (cleared first; exactly `layout(..).bytes` long afterwards).
pub fn repack(views: &[WeightView], shard: &ShardSpec, out: &mut Vec<u8>) -> Option<GpuType> {
    let v0 = views.first()?;
    let ty = GpuType::of(v0.ty)?;
    let cols = v0.cols;
    let lay = layout(
        ty,
        (shard.experts.len() * shard.rows.len()) as u64,
        cols as u64,
    );
    let chunk_row = q8_chunks(cols) * chunk_bytes(ty);
    out.clear();
    out.resize(lay.bytes as usize, 0);
    let scale_at = 4 * lay.scale_off as usize;
    let mut q = 0usize;
    let mut tmp = vec![0.0f32; if ty == GpuType::F32 { cols } else { 0 }];
    for v in &views[shard.experts.clone()] {
        for r in shard.rows.clone() {
            let row = v.row(r);
            match ty {
                GpuType::Q8_0 => {
                    // Row `i` of the shard: quants at i·chunk_row, scales at i·chunk_row/32.
                    let i = q / chunk_row;
                    for (b, blk) in row.chunks_exact(34).enumerate() {
                        let sat = scale_at + 2 * (i * chunk_row / 32 + b);
                        out[sat..sat + 2].copy_from_slice(&blk[..2]);
                        let base = q + (b / 16) * Q8_CHUNK + b % 16;
                        for (e, &v) in blk[2..].iter().enumerate() {
                            out[base + 16 * e] = v;
                        }
                    }
                    q += chunk_row;
                }
                GpuType::Q4_0 => {
                    // As Q8_0 with 16 bytes (nibble pairs) per block: quant byte l of block b
                    // at 16·l + b % 16 of chunk b / 16; scales 16 per chunk.
                    let i = q / chunk_row;
                    let per = Q8_CHUNK / 32;
                    for (b, blk) in row.chunks_exact(18).enumerate() {
                        let sat = scale_at + 2 * (i * chunk_row / 16 + b);
                        out[sat..sat + 2].copy_from_slice(&blk[..2]);
                        let base = q + (b / per) * (Q8_CHUNK / 2) + b % per;
                        for (l, &v) in blk[2..].iter().enumerate() {
                            out[base + 16 * l] = v;
                        }
                    }
                    q += chunk_row;
                }
                GpuType::F16 | GpuType::BF16 => {
                    out[q..q + row.len()].copy_from_slice(row);
                    q += row.len();
                }
                GpuType::F32 => {
                    dequantize_row_into(v, r, &mut tmp);
                    for x in &tmp {
                        out[q..q + 4].copy_from_slice(&x.to_le_bytes());
                        q += 4;
                    }
                }
            }
        }
    }
    Some(ty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::quantize;
    use crate::testutil::Rng;

    #[test]
    fn q8_planes_hold_quants_then_aligned_scales() {
        let mut r = Rng::new(7);
        let x = r.normal_vec(3 * 64);
        let bytes = quantize(GgmlType::Q8_0, &x).unwrap();
        let v = WeightView::new(GgmlType::Q8_0, &bytes, 3, 64).unwrap();
        let shard = ShardSpec {
            experts: 0..1,
            rows: 1..3,
        };
        let mut out = Vec::new();
        assert_eq!(repack(&[v], &shard, &mut out), Some(GpuType::Q8_0));
        let lay = layout(GpuType::Q8_0, 2, 64);
        assert_eq!(
            lay.scale_off, 256,
            "2 padded rows of 512 quant bytes, then the scales"
        );
        assert_eq!(out.len() as u64, lay.bytes);
        // Row 1 of the source is the shard's row 0: element e of block b at 16·e + b.
        for e in 0..32 {
            assert_eq!(out[16 * e], bytes[68 + 2 + e]);
            assert_eq!(out[16 * e + 1], bytes[68 + 34 + 2 + e]);
            assert_eq!(out[16 * e + 2], 0, "padding block");
        }
        assert_eq!(&out[1024..1026], &bytes[68..70]);
        assert_eq!(&out[1026..1028], &bytes[68 + 34..68 + 36]);
        assert_eq!(&out[1028..1056], &[0u8; 28], "padding scales");
        assert_eq!(&out[1056..1058], &bytes[136..138], "row 2, 16 halves later");
    }

    #[test]
    fn q4_units_hold_byte_l_of_sixteen_blocks() {
        let mut r = Rng::new(9);
        let x = r.normal_vec(2 * 544);
        let bytes = quantize(GgmlType::Q4_0, &x).unwrap();
        let v = WeightView::new(GgmlType::Q4_0, &bytes, 2, 544).unwrap();
        let shard = ShardSpec {
            experts: 0..1,
            rows: 0..2,
        };
        let mut out = Vec::new();
        assert_eq!(repack(&[v], &shard, &mut out), Some(GpuType::Q4_0));
        let lay = layout(GpuType::Q4_0, 2, 544);
        assert_eq!(lay.scale_off, 256, "2 rows of 2 chunks of 256 quant bytes");
        assert_eq!(out.len() as u64, lay.bytes);
        let row = 17 * 18; // source row 1: 17 blocks of 18 bytes
        for l in 0..16 {
            assert_eq!(out[512 + 16 * l], bytes[row + 2 + l], "block 0");
            assert_eq!(
                out[512 + 16 * l + 15],
                bytes[row + 15 * 18 + 2 + l],
                "block 15"
            );
            assert_eq!(
                out[512 + 256 + 16 * l],
                bytes[row + 16 * 18 + 2 + l],
                "block 16"
            );
            assert_eq!(out[512 + 256 + 16 * l + 1], 0, "padding block");
        }
        // Scales: 32 halves per row (2 chunks); row 1 block 16 at half 32 + 16.
        assert_eq!(
            &out[1024 + 96..1024 + 98],
            &bytes[row + 16 * 18..row + 16 * 18 + 2]
        );
        assert_eq!(&out[1024 + 98..1024 + 128], &[0u8; 30], "padding scales");
    }

    #[test]
    fn shards_respect_the_binding_limit() {
        let s = plan_shards(GpuType::Q8_0, 1000, 64, 1, 4096).unwrap();
        assert!(s.len() > 1);
        assert_eq!(s.first().unwrap().rows.start, 0);
        assert_eq!(s.last().unwrap().rows.end, 1000);
        for w in s.windows(2) {
            assert_eq!(w[0].rows.end, w[1].rows.start);
        }
        for sh in &s {
            assert!(layout(GpuType::Q8_0, sh.rows.len() as u64, 64).bytes <= 4096);
        }
        let e = plan_shards(GpuType::F32, 8, 8, 5, 600).unwrap();
        assert_eq!(e.len(), 3, "two experts of 256 bytes per shard");
        assert_eq!(e[2].experts, 4..5);
        assert!(plan_shards(GpuType::F32, 8, 1024, 1, 1024).is_none());
        assert_eq!(
            plan_shards(GpuType::F32, 4, 4, 1, 1 << 20).unwrap().len(),
            1
        );
    }
}
