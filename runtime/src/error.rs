//! The crate's error types: one per stage (loading a model, running a session) and [`Error`]
//! joining them for callers that do both.

use weft_kernels::GgmlType;

use crate::gguf::GgufError;

/// A model file that weft cannot run, and why.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("unsupported architecture `{0}` (weft runs mamba, mamba2, jamba, zamba2, llama)")]
    UnsupportedArchitecture(String),
    #[error("missing metadata key `{0}`")]
    MissingKey(String),
    #[error("metadata key `{key}`: {reason}")]
    BadKey { key: String, reason: String },
    #[error("missing tensor `{0}`")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?} (ggml order)")]
    TensorShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("tensor `{tensor}` has type {ty}, which weft cannot compute with here")]
    UnsupportedType { tensor: String, ty: GgmlType },
    #[error("tensor `{name}`: {reason}")]
    Tensor { name: String, reason: String },
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
}

/// A session call that could not be carried out; the session is unchanged unless stated.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("token id {token} is out of range (vocabulary has {vocab} tokens)")]
    TokenOutOfRange { token: u32, vocab: usize },
    #[error("frame has {found} values, the model reads frames of {expected}")]
    FrameLength { expected: usize, found: usize },
    #[error("this model reads frames of {frame_dim} floats, not tokens (step with Input::Frame)")]
    TokensUnsupported { frame_dim: usize },
    #[error("prefill needs at least one token")]
    EmptyPrompt,
    #[error("no logits yet: step or prefill before sampling")]
    NoLogits,
    #[error("this session keeps only the last token's logits (enable `SessionConfig::logits_all`)")]
    LogitsAllDisabled,
    #[error("output buffer holds {found} floats, {expected} are needed")]
    OutputSize { expected: usize, found: usize },
    #[error("invalid session configuration: {0}")]
    InvalidConfig(String),
    #[error("state blob has {found} bytes, this session's state has {expected}")]
    StateSize { expected: usize, found: usize },
    #[error("not a weft state blob (bad magic)")]
    StateMagic,
    #[error("state blob version {found}, this build reads version {expected}")]
    StateVersion { expected: u32, found: u32 },
    #[error("state blob was saved from a different model")]
    StateModel,
    #[error("state blob was saved by a session with a different configuration")]
    StateSessionConfig,
    #[error("state blob is corrupt: {0}")]
    StateCorrupt(&'static str),
    #[error(transparent)]
    Sample(#[from] crate::sample::SampleError),
}

/// Any weft error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
