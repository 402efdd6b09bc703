//! weft-kernels: compute only. Kernels take slices and sizes and know nothing about models.

pub mod cpu;
pub mod dtype;
pub mod quant;

#[cfg(test)]
#[allow(dead_code)] // helpers used by tests landing in the next commits
mod testutil;

pub use dtype::GgmlType;
