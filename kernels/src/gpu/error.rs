//! Typed errors of the GPU layer: shape problems are found in Rust before any GPU object exists.

use crate::dtype::GgmlType;

use super::shader::ShaderError;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no usable GPU adapter: {0}")]
    NoAdapter(String),
    #[error("device request failed: {0}")]
    Device(String),
    #[error("shape: {0}")]
    Shape(String),
    #[error("{what}: {need} bytes in one binding, the device allows {max}")]
    TooLarge { what: String, need: u64, max: u64 },
    #[error("weights of type {0} cannot be uploaded to the GPU")]
    Unsupported(GgmlType),
    #[error(transparent)]
    Shader(#[from] ShaderError),
    #[error("readback failed: {0}")]
    Readback(String),
    #[error("self-test failed: {0}")]
    SelfTest(String),
    #[error("GPU error: {0}")]
    Wgpu(String),
}

/// `Err(GpuError::Shape)` with a formatted message unless `cond`.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::gpu::GpuError::Shape(format!($($fmt)+)));
        }
    };
}
pub(crate) use ensure;
