//! GPU kernels through wgpu (feature `gpu`): adapter and capability tiers, weight repacking,
//! one WGSL kernel per file under `kernels/shaders/`, and typed dispatch builders that check
//! shapes before any pipeline or bind group exists.
//!
//! [`shader`] (sources, variants, preprocessor) needs no GPU and is always built, so that plain
//! `cargo test` validates every shader variant with naga.

pub mod shader;
