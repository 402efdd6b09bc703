//! No SIMD elementwise / recurrence kernels on this architecture: every entry says so.
#![allow(clippy::too_many_arguments)]

use std::ops::Range;

use super::dispatch::Path;
use super::ssm::Mamba2Dims;

pub(crate) fn exp_inplace(_: Path, _: &mut [f32]) -> bool {
    false
}
pub(crate) fn silu_inplace(_: Path, _: &mut [f32]) -> bool {
    false
}
pub(crate) fn softplus_inplace(_: Path, _: &mut [f32]) -> bool {
    false
}
pub(crate) fn silu_mul(_: Path, _: &[f32], _: &[f32], _: &mut [f32]) -> bool {
    false
}
pub(crate) fn gelu_mul(_: Path, _: &[f32], _: &[f32], _: &mut [f32]) -> bool {
    false
}
pub(crate) fn sum_squares_into(_: Path, _: &[f32], _: &mut f32) -> bool {
    false
}
pub(crate) fn scale(_: Path, _: &[f32], _: Option<&[f32]>, _: f32, _: &mut [f32]) -> bool {
    false
}
pub(crate) fn scale_inplace(_: Path, _: &mut [f32], _: &[f32], _: f32) -> bool {
    false
}
pub(crate) fn ssm_mamba1(
    _: Path,
    _: &mut [f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &mut [f32],
) -> bool {
    false
}
pub(crate) fn ssm_mamba2(
    _: Path,
    _: &mut [f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: &[f32],
    _: Mamba2Dims,
    _: Range<usize>,
    _: &mut [f32],
) -> bool {
    false
}
pub(crate) use attend as attend_f16;
pub(crate) fn attend<E>(
    _: Path,
    _: &[f32],
    _: &[E],
    _: &[E],
    _: usize,
    _: usize,
    _: usize,
    _: usize,
    _: f32,
    _: Range<usize>,
    _: &mut [f32],
) -> bool {
    false
}
/// No row kernel here: prefill runs the conv step per row.
pub(crate) fn conv1d_row_k4(
    _: Path,
    _: [&[f32]; 4],
    _: &[f32],
    _: &[f32],
    _: Option<&[f32]>,
    _: &mut [f32],
    _: bool,
) -> bool {
    false
}
pub(crate) fn conv1d_step(
    _: Path,
    _: &mut [f32],
    _: &[f32],
    _: &[f32],
    _: Option<&[f32]>,
    _: &mut [f32],
    _: bool,
) -> bool {
    false
}
pub(crate) fn attend_block(
    _: Path,
    _: &[super::attn_block::Source],
    _: &super::attn_block::Visibility,
    _: &super::attn_block::BlockGeom,
    _: &[f32],
    _: usize,
    _: usize,
    _: &mut [f32],
    _: &mut [f32],
) -> bool {
    false
}
pub(crate) fn attend_block_simd(_: Path, _: usize) -> bool {
    false
}
