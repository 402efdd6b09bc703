//! Every way a GGUF file (or a request against one) can be wrong. Each variant names the byte
//! offset, the key or the tensor involved, so a user can find the fault with a hex editor.

use std::path::PathBuf;

use weft_kernels::GgmlType;

/// Error produced by a tensor-data producer handed to the writer.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("load cancelled by the progress callback")]
    Cancelled,
    #[error("writing GGUF failed: {source}")]
    Write {
        #[source]
        source: std::io::Error,
    },

    // ---- structure ----
    #[error("file truncated in {what} at offset {offset}: need {needed} bytes, {available} left")]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        available: u64,
    },
    #[error("bad magic {found:02x?} at offset 0 (expected \"GGUF\")")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported GGUF version {version} at offset 4 (weft reads little-endian v2 and v3)")]
    UnsupportedVersion { version: u32 },
    #[error("{what} {count} at offset {offset} is too large for the {available} bytes left")]
    CountTooLarge {
        what: String,
        count: u64,
        offset: u64,
        available: u64,
    },
    #[error("{what} at offset {offset}: string length {len} exceeds the {available} bytes left")]
    StringTooLong {
        what: String,
        offset: u64,
        len: u64,
        available: u64,
    },
    #[error("{what} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 { what: String, offset: u64 },

    // ---- metadata ----
    #[error("key '{key}': unknown value type {type_id} at offset {offset}")]
    UnknownValueType {
        key: String,
        type_id: u32,
        offset: u64,
    },
    #[error("key '{key}': arrays nested deeper than {max} at offset {offset}")]
    NestingTooDeep {
        key: String,
        max: usize,
        offset: u64,
    },
    #[error("key '{key}': bool byte {value} at offset {offset} is neither 0 nor 1")]
    InvalidBool { key: String, value: u8, offset: u64 },
    #[error("duplicate key '{key}' at offset {offset}")]
    DuplicateKey { key: String, offset: u64 },
    #[error("general.alignment at offset {offset} is {found}; it must be a u32 power of two")]
    BadAlignment { found: String, offset: u64 },

    // ---- tensor infos ----
    #[error("tensor '{tensor}': unknown ggml type id {id}")]
    UnknownGgmlType { tensor: String, id: u32 },
    #[error("tensor '{tensor}': n_dims {n_dims} is outside 1..=4")]
    BadDimCount { tensor: String, n_dims: u32 },
    #[error("tensor '{tensor}': dimension {index} is {value}; dimensions must be positive")]
    BadDim {
        tensor: String,
        index: usize,
        value: i64,
    },
    #[error("tensor '{tensor}': shape {dims:?} of {ty} overflows")]
    DimsOverflow {
        tensor: String,
        dims: Vec<u64>,
        ty: GgmlType,
    },
    #[error(
        "tensor '{tensor}': row length {row_len} is not a multiple of the {ty} block size {block_size}"
    )]
    RowNotBlockMultiple {
        tensor: String,
        ty: GgmlType,
        row_len: u64,
        block_size: usize,
    },
    #[error("duplicate tensor name '{tensor}'")]
    DuplicateTensor { tensor: String },
    #[error("tensor '{tensor}': offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedOffset {
        tensor: String,
        offset: u64,
        alignment: u64,
    },
    #[error(
        "tensor '{tensor}': bytes {offset}..+{n_bytes} lie outside the data section of {data_len} bytes"
    )]
    OffsetOutOfRange {
        tensor: String,
        offset: u64,
        n_bytes: u64,
        data_len: u64,
    },
    #[error(
        "tensor '{tensor}' at offset {offset} overlaps tensor '{other}', which ends at {other_end}"
    )]
    Overlap {
        tensor: String,
        offset: u64,
        other: String,
        other_end: u64,
    },

    // ---- lookups ----
    #[error("missing key '{key}'")]
    MissingKey { key: String },
    #[error("key '{key}' is {found}, expected {expected}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
    },
    #[error("key '{key}': {value} does not fit in {target}")]
    OutOfRange {
        key: String,
        value: String,
        target: &'static str,
    },
    #[error("no tensor named '{tensor}'")]
    MissingTensor { tensor: String },
    #[error("tensor '{tensor}' is {found}, expected {expected}")]
    TensorType {
        tensor: String,
        expected: GgmlType,
        found: GgmlType,
    },
    #[error("tensor '{tensor}': data is not aligned for {expected}")]
    TensorMisaligned { tensor: String, expected: GgmlType },

    // ---- writer ----
    #[error("tensor '{tensor}': got {got} bytes, its shape and type need {expected}")]
    TensorSize {
        tensor: String,
        expected: u64,
        got: u64,
    },
    #[error("tensor '{tensor}': producing its data failed: {source}")]
    Producer {
        tensor: String,
        #[source]
        source: BoxError,
    },
}
