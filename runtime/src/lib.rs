//! weft: an on-device runtime for hybrid state-space + attention language models.
//!
//! `model.gguf` is memory-mapped into a [`gguf::Gguf`] view; [`Model`] reads its config, builds
//! the Plan of blocks and binds shape-checked weights; a [`Session`] compiles the Plan into
//! Programs and steps one stream through them in fixed memory.

pub mod backend;
pub mod convert;
pub mod error;
pub mod gguf;
pub mod mem;
pub mod model;
pub mod parity;
pub mod program;
pub mod sample;
pub mod session;
pub mod state;
pub mod synth;
pub mod tokenizer;

pub use error::{Error, ModelError, SessionError};
pub use model::{Arch, Config, Model};
pub use session::{Input, Session, SessionConfig};
pub use state::KvType;
