//! Architectures without SIMD kernels: everything runs the scalar reference.

use super::dispatch::Path;
use super::rows::{Dot4F, Dot4Q};
use crate::dtype::GgmlType;

pub(crate) fn dot4_f32act(_: Path, _: GgmlType) -> Option<Dot4F> {
    None
}

pub(crate) fn dot4_q8act(_: Path, _: GgmlType) -> Option<Dot4Q> {
    None
}

pub(crate) fn quantize_q8(_: Path, _: &[f32], _: &mut [i8], _: &mut [f32]) -> bool {
    false
}

pub(super) use super::ops_none as ops;
