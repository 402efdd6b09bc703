//! The GPU backend (feature `gpu`): the same Program as the CPU, executed through the WGSL
//! kernels of `weft_kernels::gpu`. Without the feature, [`GpuBackend`] is an empty type and
//! [`select`] always answers "CPU" (or an error for an explicit `Backend::Gpu`).

#[cfg(feature = "gpu")]
mod imp;
#[cfg(feature = "gpu")]
mod lower;
#[cfg(not(feature = "gpu"))]
mod stub;
#[cfg(all(test, feature = "gpu"))]
mod tests;

#[cfg(feature = "gpu")]
pub use imp::{GpuBackend, GpuDraw, StateBytes, select};
#[cfg(not(feature = "gpu"))]
pub use stub::{GpuBackend, GpuDraw, StateBytes, select};
