//! aarch64 SIMD kernels. NEON is part of the aarch64 baseline, so its kernels need no proof;
//! [`Dotprod`] is a zero-sized proof (made only by [`Dotprod::new`], which checks HWCAP) that
//! the SDOT instruction exists, so calling the `#[target_feature(enable = "dotprod")]` kernels
//! with one in hand is sound.

mod attn_block;
mod dotprod;
mod exp;
mod matvec;
pub(super) mod ops;
mod q8;
mod rowsum;
mod scan;

pub(crate) use dotprod::sdot;
pub(crate) use matvec::block_scale;

use super::dispatch::Path;
use super::rows::{Dot4F, Dot4Q};
use crate::dtype::GgmlType;

/// Proof of the dotprod extension (ARMv8.2 SDOT/UDOT).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dotprod(());

impl Dotprod {
    pub(crate) fn new() -> Option<Self> {
        std::arch::is_aarch64_feature_detected!("dotprod").then_some(Dotprod(()))
    }
}

fn is_neon(path: Path) -> bool {
    matches!(path, Path::Neon | Path::NeonDotprod)
}

/// The f32-activation four-row kernel for `ty` on `path`, if there is one.
pub(crate) fn dot4_f32act(path: Path, ty: GgmlType) -> Option<Dot4F> {
    if !is_neon(path) {
        return None;
    }
    let f: unsafe fn([&[u8]; 4], &[f32]) -> [f32; 4] = match ty {
        GgmlType::F32 => matvec::dot4_f32,
        GgmlType::F16 => matvec::dot4_f16,
        GgmlType::BF16 => matvec::dot4_bf16,
        GgmlType::Q8_0 => matvec::dot4_q8_0,
        GgmlType::Q4_0 => matvec::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: these kernels need only NEON, which every aarch64 CPU has.
    Some(unsafe { Dot4F::new(f) })
}

/// The int8-activation four-row kernel for `ty` on `path`, if there is one.
pub(crate) fn dot4_q8act(path: Path, ty: GgmlType) -> Option<Dot4Q> {
    type F = unsafe fn([&[u8]; 4], super::matvec_q8::Q8Row) -> [f32; 4];
    let f: F = match (path, ty) {
        (Path::NeonDotprod, GgmlType::Q8_0) => {
            Dotprod::new().expect("CPU lacks dotprod");
            dotprod::dot4_q8_0
        }
        (Path::NeonDotprod, GgmlType::Q4_0) => {
            Dotprod::new().expect("CPU lacks dotprod");
            dotprod::dot4_q4_0
        }
        (Path::Neon, GgmlType::Q8_0) => q8::dot4_q8_0,
        (Path::Neon, GgmlType::Q4_0) => q8::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: NEON is baseline; the dotprod kernels are chosen only after `Dotprod::new`
    // confirmed the extension.
    Some(unsafe { Dot4Q::new(f) })
}

/// Quantize `x` into Q8 blocks with NEON; `false` on other paths.
pub(crate) fn quantize_q8(path: Path, x: &[f32], qs: &mut [i8], d: &mut [f32]) -> bool {
    if !is_neon(path) {
        return false;
    }
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe { q8::quantize_q8(x, qs, d) };
    true
}

/// Mamba-2 prefill scan of one head (see [`crate::cpu::ssm::ssm_scan_mamba2_head`]); `false`
/// where the path or the state size has no kernel (shapes validated by the caller).
pub(crate) fn ssm_scan_mamba2(
    path: Path,
    state: &mut [f32],
    head: super::ssm::Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) -> bool {
    is_neon(path) && scan::ssm_scan_mamba2(state, head, scratch, y)
}
