//! weft-kernels: compute only. Kernels take slices and sizes and know nothing about models.

pub mod cpu;
pub mod dtype;
pub mod gpu;
pub mod pool;
pub mod quant;

#[cfg(test)]
mod testutil;

pub use dtype::GgmlType;
