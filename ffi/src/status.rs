//! `weft_status`: what every fallible call returns, and how weft's typed errors map onto it.

use std::ffi::c_char;

use weft::gguf::GgufError;
use weft::sample::SampleError;
use weft::tokenizer::TokenizerError;
use weft::{ModelError, SessionError};

use crate::error::Failure;

/// Outcome of a call. `WEFT_OK` is 0; every other value comes with a message from
/// `weft_last_error()` on the same thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum weft_status {
    WEFT_OK = 0,
    /// A required pointer argument was NULL.
    WEFT_ERR_NULL_ARG = 1,
    /// An argument is out of range: a length, a token id, a frame size, a parameter value or a
    /// parameter struct whose `size` this library does not know.
    WEFT_ERR_INVALID_ARG = 2,
    /// A string argument is not valid UTF-8.
    WEFT_ERR_INVALID_UTF8 = 3,
    /// A file could not be opened or read.
    WEFT_ERR_IO = 4,
    /// The file is not a model weft can run (bad GGUF, unsupported architecture, bad tensors).
    WEFT_ERR_MODEL = 5,
    /// The model has no tokenizer, or the tokenizer failed (e.g. an unknown token id).
    WEFT_ERR_TOKENIZER = 6,
    /// A caller buffer is too small.
    WEFT_ERR_BUFFER_TOO_SMALL = 7,
    /// A state blob does not fit this session (size, magic, version, model or configuration).
    WEFT_ERR_STATE = 8,
    /// The session cannot do this yet (e.g. sampling before any step or prefill).
    WEFT_ERR_NOT_READY = 9,
    /// Stopped by `weft_session_cancel` or by a load progress callback returning false.
    WEFT_ERR_CANCELLED = 10,
    /// The session is in use by another thread (sessions are one thread at a time).
    WEFT_ERR_BUSY = 11,
    /// Sampling failed on the model's output (non-finite or fully masked logits).
    WEFT_ERR_SAMPLE = 12,
    /// A bug in weft (a caught panic). The message says where; the session may need a reset.
    WEFT_ERR_INTERNAL = 13,
}

/// A static, NUL-terminated name of `status` ("WEFT_ERR_IO"); never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn weft_status_name(status: weft_status) -> *const c_char {
    use weft_status::*;
    let s: &'static [u8] = match status {
        WEFT_OK => b"WEFT_OK\0",
        WEFT_ERR_NULL_ARG => b"WEFT_ERR_NULL_ARG\0",
        WEFT_ERR_INVALID_ARG => b"WEFT_ERR_INVALID_ARG\0",
        WEFT_ERR_INVALID_UTF8 => b"WEFT_ERR_INVALID_UTF8\0",
        WEFT_ERR_IO => b"WEFT_ERR_IO\0",
        WEFT_ERR_MODEL => b"WEFT_ERR_MODEL\0",
        WEFT_ERR_TOKENIZER => b"WEFT_ERR_TOKENIZER\0",
        WEFT_ERR_BUFFER_TOO_SMALL => b"WEFT_ERR_BUFFER_TOO_SMALL\0",
        WEFT_ERR_STATE => b"WEFT_ERR_STATE\0",
        WEFT_ERR_NOT_READY => b"WEFT_ERR_NOT_READY\0",
        WEFT_ERR_CANCELLED => b"WEFT_ERR_CANCELLED\0",
        WEFT_ERR_BUSY => b"WEFT_ERR_BUSY\0",
        WEFT_ERR_SAMPLE => b"WEFT_ERR_SAMPLE\0",
        WEFT_ERR_INTERNAL => b"WEFT_ERR_INTERNAL\0",
    };
    s.as_ptr().cast()
}

impl From<ModelError> for Failure {
    fn from(e: ModelError) -> Self {
        let status = match &e {
            ModelError::Gguf(GgufError::Io { .. }) => weft_status::WEFT_ERR_IO,
            ModelError::Gguf(GgufError::Cancelled) => weft_status::WEFT_ERR_CANCELLED,
            _ => weft_status::WEFT_ERR_MODEL,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Self {
        use weft_status::*;
        let status = match &e {
            SessionError::NoLogits | SessionError::LogitsAllDisabled => WEFT_ERR_NOT_READY,
            SessionError::StateSize { .. }
            | SessionError::StateMagic
            | SessionError::StateVersion { .. }
            | SessionError::StateModel
            | SessionError::StateSessionConfig
            | SessionError::StateCorrupt(_) => WEFT_ERR_STATE,
            SessionError::Sample(s) => sample_status(s),
            _ => WEFT_ERR_INVALID_ARG,
        };
        Failure::new(status, e.to_string())
    }
}

fn sample_status(e: &SampleError) -> weft_status {
    match e {
        SampleError::NonFiniteLogit { .. } | SampleError::AllMasked => weft_status::WEFT_ERR_SAMPLE,
        _ => weft_status::WEFT_ERR_INVALID_ARG,
    }
}

impl From<TokenizerError> for Failure {
    fn from(e: TokenizerError) -> Self {
        let status = match &e {
            TokenizerError::Io { .. } => weft_status::WEFT_ERR_IO,
            _ => weft_status::WEFT_ERR_TOKENIZER,
        };
        Failure::new(status, e.to_string())
    }
}
