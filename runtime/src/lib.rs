//! weft: an on-device runtime for hybrid state-space + attention language models.
//!
//! `model.gguf` is memory-mapped into a [`gguf::Gguf`] view; the converter writes GGUF files from
//! Hugging Face folders.

pub mod convert;
pub mod gguf;
pub mod sample;
pub mod tokenizer;
