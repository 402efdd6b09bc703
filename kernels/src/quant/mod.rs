//! Quantization block formats: quantize / dequantize, bit-exact with ggml's reference
//! (`ggml/src/ggml-quants.c`, `ggml-impl.h`); layouts in GGUF.md §3.1.
//!
//! Whole-buffer entry points check every length and return [`QuantError`]; the per-block
//! functions take fixed-size arrays so that they cannot index out of bounds either.

mod float;
mod q4_0;
mod q4_k;
mod q6_k;
mod q8_0;

#[cfg(test)]
mod tests;

pub use float::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};
pub use q4_0::{dequantize_block_q4_0, quantize_block_q4_0};
pub use q4_k::{dequantize_block_q4_k, get_scale_min_k4};
pub use q6_k::dequantize_block_q6_k;
pub use q8_0::{dequantize_block_q8_0, quantize_block_q8_0};

use crate::dtype::GgmlType;

/// Block sizes and byte sizes of the block types weft computes with (ggml-common.h).
pub const QK4_0: usize = 32;
pub const QK8_0: usize = 32;
pub const Q4_0_BYTES: usize = 18;
pub const Q8_0_BYTES: usize = 34;
pub const Q4_K_BYTES: usize = 144;
pub const Q6_K_BYTES: usize = 210;
pub use crate::dtype::QK_K;

/// Why a quantize / dequantize call was refused. Nothing is written when an error is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error("{op} is not implemented for {ty}")]
    Unsupported { ty: GgmlType, op: &'static str },
    #[error("{ty}: {len} elements is not a multiple of the block size {block}")]
    NotBlockMultiple {
        ty: GgmlType,
        len: usize,
        block: usize,
    },
    #[error("{ty}: {len} bytes is not a multiple of the block byte size {block_bytes}")]
    NotWholeBlocks {
        ty: GgmlType,
        len: usize,
        block_bytes: usize,
    },
    #[error("{ty}: destination holds {actual} {unit}, expected {expected}")]
    DstLength {
        ty: GgmlType,
        expected: usize,
        actual: usize,
        unit: &'static str,
    },
}

/// Types [`quantize`] can produce.
pub fn can_quantize(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(ty, F32 | F16 | BF16 | Q8_0 | Q4_0)
}

/// Types [`dequantize`] can read (= the types the CPU kernels compute with).
pub fn can_dequantize(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(ty, F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_K | Q6_K)
}

/// Quantize `src` (a whole number of blocks) into a new buffer of `ty.row_bytes(src.len())` bytes.
pub fn quantize(ty: GgmlType, src: &[f32]) -> Result<Vec<u8>, QuantError> {
    let n = quantized_len(ty, src.len())?;
    let mut dst = vec![0u8; n];
    quantize_into(ty, src, &mut dst)?;
    Ok(dst)
}

/// Quantize `src` into `dst`, which must be exactly `ty.row_bytes(src.len())` bytes.
pub fn quantize_into(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> Result<(), QuantError> {
    let n = quantized_len(ty, src.len())?;
    if dst.len() != n {
        return Err(QuantError::DstLength {
            ty,
            expected: n,
            actual: dst.len(),
            unit: "bytes",
        });
    }
    match ty {
        GgmlType::F32 => {
            for (d, &x) in dst.chunks_exact_mut(4).zip(src) {
                d.copy_from_slice(&x.to_le_bytes());
            }
        }
        GgmlType::F16 => {
            for (d, &x) in dst.chunks_exact_mut(2).zip(src) {
                d.copy_from_slice(&f32_to_f16(x).to_le_bytes());
            }
        }
        GgmlType::BF16 => {
            for (d, &x) in dst.chunks_exact_mut(2).zip(src) {
                d.copy_from_slice(&f32_to_bf16(x).to_le_bytes());
            }
        }
        GgmlType::Q8_0 => {
            for (d, x) in dst
                .chunks_exact_mut(Q8_0_BYTES)
                .zip(src.chunks_exact(QK8_0))
            {
                quantize_block_q8_0(arr(x), arr_mut(d));
            }
        }
        GgmlType::Q4_0 => {
            for (d, x) in dst
                .chunks_exact_mut(Q4_0_BYTES)
                .zip(src.chunks_exact(QK4_0))
            {
                quantize_block_q4_0(arr(x), arr_mut(d));
            }
        }
        _ => unreachable!("quantized_len accepted an unsupported type"),
    }
    Ok(())
}

/// Dequantize `src` (a whole number of blocks of `ty`) into `dst`, which must hold exactly the
/// number of elements those blocks encode.
pub fn dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    if !can_dequantize(ty) {
        return Err(QuantError::Unsupported {
            ty,
            op: "dequantize",
        });
    }
    let bb = ty.block_bytes();
    if !src.len().is_multiple_of(bb) {
        return Err(QuantError::NotWholeBlocks {
            ty,
            len: src.len(),
            block_bytes: bb,
        });
    }
    let n = src.len() / bb * ty.block_size();
    if dst.len() != n {
        return Err(QuantError::DstLength {
            ty,
            expected: n,
            actual: dst.len(),
            unit: "elements",
        });
    }
    let bs = ty.block_size();
    for (block, out) in src.chunks_exact(bb).zip(dst.chunks_exact_mut(bs)) {
        dequantize_block(ty, block, out);
    }
    Ok(())
}

/// Dequantize one row of `dst.len()` elements; same checks as [`dequantize`], named for callers
/// that think in rows (embedding lookup).
pub fn dequantize_row(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), QuantError> {
    dequantize(ty, src, dst)
}

/// Dequantize exactly one block (`block.len() == ty.block_bytes()`,
/// `out.len() == ty.block_size()`). The lengths are the caller's invariant (checked with
/// `assert!`); used by the kernels, which validate shapes once up front.
#[inline]
pub fn dequantize_block(ty: GgmlType, block: &[u8], out: &mut [f32]) {
    match ty {
        GgmlType::F32 => out[0] = f32::from_le_bytes(*arr(block)),
        GgmlType::F16 => out[0] = f16_to_f32(u16::from_le_bytes(*arr(block))),
        GgmlType::BF16 => out[0] = bf16_to_f32(u16::from_le_bytes(*arr(block))),
        GgmlType::Q8_0 => dequantize_block_q8_0(arr(block), arr_mut(out)),
        GgmlType::Q4_0 => dequantize_block_q4_0(arr(block), arr_mut(out)),
        GgmlType::Q4_K => dequantize_block_q4_k(arr(block), arr_mut(out)),
        GgmlType::Q6_K => dequantize_block_q6_k(arr(block), arr_mut(out)),
        _ => panic!("dequantize_block: unsupported type {ty}"),
    }
}

/// Output byte count of quantizing `len` elements, or why it cannot be done.
fn quantized_len(ty: GgmlType, len: usize) -> Result<usize, QuantError> {
    if !can_quantize(ty) {
        return Err(QuantError::Unsupported { ty, op: "quantize" });
    }
    ty.row_bytes(len).ok_or(QuantError::NotBlockMultiple {
        ty,
        len,
        block: ty.block_size(),
    })
}

/// A slice as a fixed-size array reference (length is a checked invariant of the caller).
#[inline]
fn arr<T, const N: usize>(s: &[T]) -> &[T; N] {
    s.try_into().expect("block length")
}

#[inline]
fn arr_mut<T, const N: usize>(s: &mut [T]) -> &mut [T; N] {
    s.try_into().expect("block length")
}
