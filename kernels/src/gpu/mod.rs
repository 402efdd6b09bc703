//! GPU kernels through wgpu (feature `gpu`): adapter and capability tiers, weight repacking,
//! one WGSL kernel per file under `kernels/shaders/`, and typed dispatch builders that check
//! shapes before any pipeline or bind group exists.
//!
//! [`shader`] (sources, variants, preprocessor) needs no GPU and is always built, so that plain
//! `cargo test` validates every shader variant with naga.

pub mod repack;
pub mod shader;

#[cfg(feature = "gpu")]
pub mod bandwidth;
#[cfg(feature = "gpu")]
mod context;
#[cfg(feature = "gpu")]
mod dispatch;
#[cfg(feature = "gpu")]
mod error;
#[cfg(feature = "gpu")]
pub mod ops;
#[cfg(feature = "gpu")]
mod selftest;
#[cfg(feature = "gpu")]
mod weights;

#[cfg(feature = "gpu")]
pub use context::{GpuContext, GpuOptions, required_limits, tier_of};
#[cfg(feature = "gpu")]
pub use dispatch::{Bind, Dispatch, DispatchList, Pipelines, Recorder, Rows, Step, View};
#[cfg(feature = "gpu")]
pub use error::GpuError;
#[cfg(feature = "gpu")]
pub(crate) use error::ensure;
#[cfg(feature = "gpu")]
pub use selftest::self_test;
#[cfg(feature = "gpu")]
pub use weights::{GpuMatrix, VecRef, VectorPool};
