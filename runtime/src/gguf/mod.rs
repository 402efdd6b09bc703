//! GGUF v3 container: zero-copy reader and streaming writer.
//!
//! [`Gguf`] memory-maps a file (or takes an owned buffer) and validates all of it before handing
//! anything out, so later code can slice tensor data without checks of its own. A file is rejected
//! with a typed [`GgufError`] naming the offset, key or tensor when:
//!
//! - the magic is not `GGUF`, or the version is not 2 or 3 (v2 has the same layout as v3);
//! - any read would run past the end of the file (`Truncated`);
//! - `n_tensors`, `n_kv`, an array length or a string length could not fit in the bytes left
//!   (checked *before* allocating, so a forged count is an error, not an out-of-memory abort);
//! - a string is not UTF-8, a value type id is unknown, a bool byte is not 0/1, arrays nest deeper
//!   than [`MAX_ARRAY_DEPTH`], or a key appears twice;
//! - `general.alignment` is not a power-of-two `u32`;
//! - a tensor has n_dims outside 1..=4, a zero or negative dimension, an element or byte count that
//!   overflows, an unknown ggml type, a row length (`dims[0]`) that is not a whole number of
//!   blocks, or a duplicate name;
//! - a tensor offset is not a multiple of the alignment, its bytes run past the end of the data
//!   section, or it overlaps another tensor.
//!
//! The data section starts at the end of the tensor infos padded to the alignment; that padding
//! must be present even in a file without tensors, so `data_offset() <= as_bytes().len()`.
//! llama.cpp also
//! insists that offsets are the running padded sum of sizes; weft accepts any aligned, in-range,
//! non-overlapping layout, and [`GgufWriter`] always writes llama.cpp's layout.

mod cursor;
mod encode;
mod error;
mod file;
mod getters;
mod reader;
mod tensor;
mod value;
mod value_fmt;
mod writer;

pub use error::{BoxError, GgufError};
pub use file::{Gguf, Placement};
pub use reader::{DEFAULT_ALIGNMENT, MAX_ARRAY_DEPTH};
pub use tensor::{MAX_DIMS, TensorInfo};
pub use value::{MetaArray, MetaType, MetaValue};
pub use weft_kernels::GgmlType;
pub use writer::GgufWriter;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn gguf_is_send_and_sync() {
        assert_send_sync::<Gguf>();
        assert_send_sync::<GgufError>();
    }
}
