//! `weft-ffi`: weft's C ABI (`include/weft.h`) and, behind feature `jni`, its Java bindings.
//!
//! Conventions (DESIGN.md §6): opaque `weft_model` (shareable across threads) and `weft_session`
//! (one thread at a time); every fallible call returns a [`weft_status`] and leaves a
//! thread-local message for [`weft_last_error`]; parameter structs carry their own `size`;
//! caller-owned buffers with "negative return = size needed"; `*_free` take the handle's address,
//! accept NULL and clear it, so freeing twice is harmless. No panic crosses the boundary: every
//! entry point runs inside [`error::guard`].

#![allow(non_camel_case_types)]
// Raw pointers are checked for NULL (and length sanity) in `ptr` before any use; the entry points
// are `unsafe extern "C"` so callers see the contract in the header's comments.
#![allow(clippy::missing_safety_doc)]

mod detok;
mod error;
mod generate;
mod model;
mod params;
mod ptr;
mod session;
mod state;
mod status;
mod text;
mod tokenizer;

#[cfg(feature = "jni")]
mod jni;

pub use detok::*;
pub use error::{weft_last_error, weft_last_status};
pub use generate::*;
pub use model::*;
pub use params::*;
pub use session::*;
pub use state::*;
pub use status::*;
pub use text::*;

/// The library version ("0.1.0"), static and NUL-terminated.
#[unsafe(no_mangle)]
pub extern "C" fn weft_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
