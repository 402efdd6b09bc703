//! Typed errors of the converter. Every message names the file, key or tensor at fault.

use std::path::PathBuf;

/// The Hugging Face architectures `weft convert` understands (`architectures[0]` in config.json).
pub const SUPPORTED_ARCHITECTURES: [&str; 6] = [
    "MambaForCausalLM",
    "Mamba2ForCausalLM",
    "Mamba2ForFrameRegression",
    "JambaForCausalLM",
    "Zamba2ForCausalLM",
    "LlamaForCausalLM",
];

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("missing file {}", path.display())]
    MissingFile { path: PathBuf },

    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{}: invalid safetensors file: {reason}", path.display())]
    Safetensors { path: PathBuf, reason: String },

    #[error("unsupported architecture {0:?}; supported: {list}", list = SUPPORTED_ARCHITECTURES.join(", "))]
    UnsupportedArchitecture(String),

    #[error("config.json: key {key:?} {reason}")]
    InvalidConfig { key: String, reason: String },

    #[error("tensor {name:?} not found in {}", dir.display())]
    MissingTensor { name: String, dir: PathBuf },

    #[error("tensor {name:?} has shape {got:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    #[error("tensor {name:?} has unsupported dtype {dtype} (supported: F32, F16, BF16)")]
    UnsupportedDtype { name: String, dtype: String },

    #[error("{}: {reason}", path.display())]
    Tokenizer { path: PathBuf, reason: String },

    #[error("tensor {name:?}: quantization to {ty} failed: {reason}")]
    Quantize {
        name: String,
        ty: weft_kernels::GgmlType,
        reason: String,
    },

    #[error(transparent)]
    Gguf(#[from] crate::gguf::GgufError),
}

impl ConvertError {
    /// Unwraps a converter error that travelled through the GGUF writer's tensor producer.
    pub(crate) fn from_gguf(e: crate::gguf::GgufError) -> Self {
        match e {
            crate::gguf::GgufError::Producer { tensor, source } => {
                match source.downcast::<ConvertError>() {
                    Ok(inner) => *inner,
                    Err(source) => crate::gguf::GgufError::Producer { tensor, source }.into(),
                }
            }
            other => other.into(),
        }
    }

    pub(crate) fn config(key: &str, reason: impl Into<String>) -> Self {
        ConvertError::InvalidConfig {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufError;

    #[test]
    fn producer_errors_unwrap_to_the_converter_error() {
        let inner = ConvertError::MissingTensor {
            name: "x".into(),
            dir: PathBuf::from("d"),
        };
        let e = GgufError::Producer {
            tensor: "blk.0.x".into(),
            source: Box::new(inner),
        };
        assert!(
            matches!(ConvertError::from_gguf(e), ConvertError::MissingTensor { name, .. } if name == "x")
        );

        let other = GgufError::Producer {
            tensor: "t".into(),
            source: "boom".into(),
        };
        let err = ConvertError::from_gguf(other);
        assert!(matches!(err, ConvertError::Gguf(_)));
        assert!(err.to_string().contains('t'), "{err}");
    }
}
