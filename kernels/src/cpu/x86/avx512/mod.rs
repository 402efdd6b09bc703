//! AVX-512 (F/BW/VL/VNNI) kernels: 512-bit matvec over float and block types, and VNNI
//! (`vpdpbusd`) int8 dot products. Reached only through an [`Avx512`] token.

mod matvec;
mod q8;
mod ssm;
mod ssm1;
mod ssm2;
mod vbmi;

pub(super) use ssm::ssm_scan_mamba2;
pub(super) use ssm1::ssm_mamba1;
pub(super) use ssm2::ssm_mamba2;

use super::{Avx512, Avx512Vbmi};
use crate::cpu::matvec_q8::Q8Row;
use crate::cpu::rows::{Dot4F, Dot4Q};
use crate::dtype::GgmlType;

/// The f32-activation four-row kernel for `ty`.
pub(super) fn dot4_f32act(_: Avx512, ty: GgmlType) -> Option<Dot4F> {
    let f: unsafe fn([&[u8]; 4], &[f32]) -> [f32; 4] = match ty {
        GgmlType::F32 => matvec::dot4_f32,
        GgmlType::F16 => matvec::dot4_f16,
        GgmlType::BF16 => matvec::dot4_bf16,
        GgmlType::Q8_0 => matvec::dot4_q8_0,
        GgmlType::Q4_0 => matvec::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: the `Avx512` token proves AVX-512 F/BW/VL/VNNI plus AVX2/FMA/F16C.
    Some(unsafe { Dot4F::new(f) })
}

/// The int8-activation four-row kernel for `ty`.
pub(super) fn dot4_q8act(_: Avx512, ty: GgmlType) -> Option<Dot4Q> {
    let f: unsafe fn([&[u8]; 4], Q8Row) -> [f32; 4] = match ty {
        GgmlType::Q8_0 => q8::dot4_q8_0,
        GgmlType::Q4_0 => q8::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: as above.
    Some(unsafe { Dot4Q::new(f) })
}

/// The int8-activation four-row kernel for `ty` that needs VBMI, if there is one.
pub(super) fn dot4_q8act_vbmi(_: Avx512Vbmi, ty: GgmlType) -> Option<Dot4Q> {
    let f: unsafe fn([&[u8]; 4], Q8Row) -> [f32; 4] = match ty {
        GgmlType::Q8_0 => vbmi::dot4_q8_0,
        GgmlType::Q4_0 => vbmi::dot4_q4_0,
        _ => return None,
    };
    // SAFETY: the `Avx512Vbmi` token proves AVX-512 F/BW/VL/VNNI/VBMI plus AVX2/FMA/F16C.
    Some(unsafe { Dot4Q::new(f) })
}
