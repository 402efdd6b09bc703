//! x86-64 SIMD kernels. [`Avx2`] and [`Avx512`] are zero-sized proofs that the running CPU has
//! the features their kernels are compiled for: a token can only be made by
//! [`Avx2::new`] / [`Avx512::new`], which check CPUID, so calling a `#[target_feature]` kernel
//! with a token in hand is sound.
//!
//! The AVX-512 path uses 512-bit registers where the work is wide (matvec over float and
//! block types), and VNNI for int8 dot products; elementwise and recurrence kernels (SSM,
//! conv, norms, attention) share the AVX2 code on both paths.

mod avx2;
mod avx512;
pub(crate) mod ops;

use super::dispatch::Path;
use super::rows::{Dot4F, Dot4Q};
use super::ssm::Mamba2Head;
use crate::dtype::GgmlType;

/// Proof of AVX2 + FMA + F16C.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    pub(crate) fn new() -> Option<Self> {
        let ok = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        ok.then_some(Avx2(()))
    }
}

/// Proof of AVX-512 F/BW/VL/VNNI on top of [`Avx2`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    pub(crate) fn new() -> Option<Self> {
        let ok = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni")
            && Avx2::new().is_some();
        ok.then_some(Avx512(()))
    }

    /// Proof of AVX-512 VBMI on top of this path.
    pub(crate) fn vbmi() -> Option<Avx512Vbmi> {
        let ok = Avx512::new().is_some() && is_x86_feature_detected!("avx512vbmi");
        ok.then_some(Avx512Vbmi(()))
    }
}

/// Proof of AVX-512 VBMI (`vpermb`/`vpermt2b`) on top of [`Avx512`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512Vbmi(());

/// The AVX2 token for a path that runs AVX2 code (both x86 SIMD paths), else `None`.
pub(crate) fn avx2_of(path: Path) -> Option<Avx2> {
    match path {
        Path::Avx2 | Path::Avx512 | Path::Avx512Vbmi => {
            Some(Avx2::new().expect("CPU lacks AVX2/FMA/F16C"))
        }
        _ => None,
    }
}

fn avx512_of(path: Path) -> Option<Avx512> {
    matches!(path, Path::Avx512 | Path::Avx512Vbmi)
        .then(|| Avx512::new().expect("CPU lacks AVX-512 F/BW/VL/VNNI"))
}

/// The f32-activation row kernel for `ty` on `path`, if there is one.
pub(crate) fn dot4_f32act(path: Path, ty: GgmlType) -> Option<Dot4F> {
    match avx512_of(path) {
        Some(t) => avx512::dot4_f32act(t, ty),
        None => avx2::dot4_f32act(avx2_of(path)?, ty),
    }
}

/// The int8-activation row kernel for `ty` on `path`, if there is one.
pub(crate) fn dot4_q8act(path: Path, ty: GgmlType) -> Option<Dot4Q> {
    if path == Path::Avx512Vbmi {
        let t = Avx512::vbmi().expect("CPU lacks AVX-512 VBMI");
        if let Some(k) = avx512::dot4_q8act_vbmi(t, ty) {
            return Some(k);
        }
    }
    match avx512_of(path) {
        Some(t) => avx512::dot4_q8act(t, ty),
        None => avx2::dot4_q8act(avx2_of(path)?, ty),
    }
}

/// Mamba-2 prefill scan of one head (see [`crate::cpu::ssm::ssm_scan_mamba2_head`]); `false`
/// where the path or the state size has no kernel (shapes validated by the caller).
pub(crate) fn ssm_scan_mamba2(
    path: Path,
    state: &mut [f32],
    head: Mamba2Head,
    scratch: &mut [f32],
    y: &mut [f32],
) -> bool {
    avx512_of(path).is_some_and(|tk| avx512::ssm_scan_mamba2(tk, state, head, scratch, y))
        || avx2_of(path).is_some_and(|tk| avx2::scan::ssm_scan_mamba2(tk, state, head, scratch, y))
}

/// Quantize `x` into Q8 blocks with SIMD; `false` if the path has no quantizer.
pub(crate) fn quantize_q8(path: Path, x: &[f32], qs: &mut [i8], d: &mut [f32]) -> bool {
    avx2_of(path).is_some_and(|t| {
        avx2::quantize_q8(t, x, qs, d);
        true
    })
}
