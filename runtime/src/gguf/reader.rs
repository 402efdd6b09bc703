//! Parses and validates the header, metadata and tensor infos of a GGUF file held in memory.

use std::collections::HashSet;

use weft_kernels::GgmlType;

use super::cursor::{Cursor, What};
use super::error::GgufError;
use super::tensor::{MAX_DIMS, TensorInfo, check_layout, pad};
use super::value::{MetaArray, MetaType, MetaValue};

pub const MAGIC: [u8; 4] = *b"GGUF";
pub const DEFAULT_ALIGNMENT: u64 = 32;
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Deepest array nesting accepted (1 = a flat array). llama.cpp accepts no nesting at all.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// Fewest bytes a tensor info can take: name length, n_dims, one dim, type, offset.
const MIN_TENSOR_INFO: u64 = 8 + 4 + 8 + 4 + 8;
/// Fewest bytes a metadata entry can take: key length, type, a one-byte value.
const MIN_KV: u64 = 8 + 4 + 1;
/// Vectors of variable-size elements grow as elements arrive, from at most this capacity.
const MAX_PREALLOC: usize = 4096;

/// Everything except the bytes: what `Gguf` keeps beside its storage.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub version: u32,
    pub alignment: u64,
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<TensorInfo>,
    pub data_offset: u64,
}

pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, GgufError> {
    let mut c = Cursor::new(buf);
    let magic = c.take(4).what(|| "magic".into())?;
    if magic != MAGIC {
        let mut found = [0u8; 4];
        found.copy_from_slice(magic);
        return Err(GgufError::BadMagic { found });
    }
    let version = c.u32().what(|| "version".into())?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion { version });
    }
    let n_tensors = read_count(&mut c, "tensor count", MIN_TENSOR_INFO)?;
    let n_kv = read_count(&mut c, "metadata count", MIN_KV)?;

    let mut metadata = Vec::with_capacity(n_kv.min(MAX_PREALLOC));
    let mut keys = HashSet::with_capacity(n_kv.min(MAX_PREALLOC));
    let mut alignment = DEFAULT_ALIGNMENT;
    for i in 0..n_kv {
        let offset = c.pos();
        let key = c.str().what(|| format!("key of metadata entry #{i}"))?;
        let value = read_value(&mut c, key, offset)?;
        if !keys.insert(key) {
            return Err(GgufError::DuplicateKey {
                key: key.to_string(),
                offset,
            });
        }
        if key == ALIGNMENT_KEY {
            alignment = check_alignment(&value, offset)?;
        }
        metadata.push((key.to_string(), value));
    }

    let mut tensors = Vec::with_capacity(n_tensors.min(MAX_PREALLOC));
    let mut names = HashSet::with_capacity(n_tensors.min(MAX_PREALLOC));
    for i in 0..n_tensors {
        let t = read_tensor_info(&mut c, i)?;
        if !names.insert(t.name.clone()) {
            return Err(GgufError::DuplicateTensor { tensor: t.name });
        }
        tensors.push(t);
    }

    // Both llama.cpp and gguf-py write this padding even when there are no tensors, and
    // requiring it keeps `data_offset <= file length` for every accepted file.
    let infos_end = c.pos();
    let data_offset = pad(infos_end, alignment).unwrap_or(u64::MAX);
    c.take(data_offset - infos_end)
        .what(|| "padding before the data section".into())?;
    let data_len = buf.len() as u64 - data_offset;
    check_layout(&tensors, alignment, data_len)?;
    Ok(Parsed {
        version,
        alignment,
        metadata,
        tensors,
        data_offset,
    })
}

/// Reads an i64 count and rejects one that could not fit in the rest of the file.
fn read_count(c: &mut Cursor, what: &str, min_each: u64) -> Result<usize, GgufError> {
    let offset = c.pos();
    let count = c.u64().what(|| what.into())?;
    let fits = count
        .checked_mul(min_each)
        .is_some_and(|n| n <= c.remaining());
    match usize::try_from(count) {
        Ok(n) if fits => Ok(n),
        _ => Err(GgufError::CountTooLarge {
            what: what.into(),
            count,
            offset,
            available: c.remaining(),
        }),
    }
}

/// `general.alignment` must be a non-zero power-of-two u32.
pub(crate) fn check_alignment(value: &MetaValue, offset: u64) -> Result<u64, GgufError> {
    match value {
        MetaValue::U32(a) if a.is_power_of_two() => Ok(u64::from(*a)),
        MetaValue::U32(a) => Err(GgufError::BadAlignment {
            found: a.to_string(),
            offset,
        }),
        other => Err(GgufError::BadAlignment {
            found: format!("{} {other}", other.type_name()),
            offset,
        }),
    }
}

fn read_type(c: &mut Cursor, key: &str, what: &str) -> Result<MetaType, GgufError> {
    let offset = c.pos();
    let id = c.u32().what(|| format!("{what} of key '{key}'"))?;
    MetaType::from_id(id).ok_or_else(|| GgufError::UnknownValueType {
        key: key.to_string(),
        type_id: id,
        offset,
    })
}

/// Reads the type tag and value of the entry whose key starts at `entry`.
fn read_value(c: &mut Cursor, key: &str, entry: u64) -> Result<MetaValue, GgufError> {
    let ty = read_type(c, key, "value type")?;
    let what = || format!("value of key '{key}' (entry at offset {entry})");
    let offset = c.pos();
    Ok(match ty {
        MetaType::U8 => MetaValue::U8(c.u8().what(what)?),
        MetaType::I8 => MetaValue::I8(c.i8().what(what)?),
        MetaType::U16 => MetaValue::U16(c.u16().what(what)?),
        MetaType::I16 => MetaValue::I16(c.i16().what(what)?),
        MetaType::U32 => MetaValue::U32(c.u32().what(what)?),
        MetaType::I32 => MetaValue::I32(c.i32().what(what)?),
        MetaType::F32 => MetaValue::F32(c.f32().what(what)?),
        MetaType::U64 => MetaValue::U64(c.u64().what(what)?),
        MetaType::I64 => MetaValue::I64(c.i64().what(what)?),
        MetaType::F64 => MetaValue::F64(c.f64().what(what)?),
        MetaType::Bool => MetaValue::Bool(to_bool(c.u8().what(what)?, key, offset)?),
        MetaType::String => MetaValue::String(c.str().what(what)?.to_string()),
        MetaType::Array => MetaValue::Array(read_array(c, key, 1)?),
    })
}

fn to_bool(b: u8, key: &str, offset: u64) -> Result<bool, GgufError> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(GgufError::InvalidBool {
            key: key.to_string(),
            value,
            offset,
        }),
    }
}

/// Reads `count` fixed-size little-endian values in one bounds check.
macro_rules! fixed_array {
    ($c:expr, $count:expr, $what:expr, $t:ty, $var:ident) => {{
        let bytes = $c.take($count * size_of::<$t>() as u64).what($what)?;
        MetaArray::$var(
            bytes
                .chunks_exact(size_of::<$t>())
                .map(|b| {
                    let mut a = [0u8; size_of::<$t>()];
                    a.copy_from_slice(b);
                    <$t>::from_le_bytes(a)
                })
                .collect(),
        )
    }};
}

/// Reads an array (element type, u64 count, elements) at nesting level `depth` (1 = outermost).
fn read_array(c: &mut Cursor, key: &str, depth: usize) -> Result<MetaArray, GgufError> {
    let header = c.pos();
    let elem = read_type(c, key, "array element type")?;
    if elem == MetaType::Array && depth >= MAX_ARRAY_DEPTH {
        return Err(GgufError::NestingTooDeep {
            key: key.to_string(),
            max: MAX_ARRAY_DEPTH,
            offset: header,
        });
    }
    let count_at = c.pos();
    let count = c.u64().what(|| format!("array length of key '{key}'"))?;
    // Guard before allocating: every element takes at least `min_size` bytes.
    let fits = count
        .checked_mul(elem.min_size() as u64)
        .is_some_and(|n| n <= c.remaining());
    if !fits {
        return Err(GgufError::CountTooLarge {
            what: format!("array length of key '{key}'"),
            count,
            offset: count_at,
            available: c.remaining(),
        });
    }
    let what = || format!("array elements of key '{key}'");
    Ok(match elem {
        MetaType::U8 => fixed_array!(c, count, what, u8, U8),
        MetaType::I8 => fixed_array!(c, count, what, i8, I8),
        MetaType::U16 => fixed_array!(c, count, what, u16, U16),
        MetaType::I16 => fixed_array!(c, count, what, i16, I16),
        MetaType::U32 => fixed_array!(c, count, what, u32, U32),
        MetaType::I32 => fixed_array!(c, count, what, i32, I32),
        MetaType::F32 => fixed_array!(c, count, what, f32, F32),
        MetaType::U64 => fixed_array!(c, count, what, u64, U64),
        MetaType::I64 => fixed_array!(c, count, what, i64, I64),
        MetaType::F64 => fixed_array!(c, count, what, f64, F64),
        MetaType::Bool => {
            let start = c.pos();
            let bytes = c.take(count).what(what)?;
            let mut v = Vec::with_capacity(bytes.len());
            for (i, &b) in bytes.iter().enumerate() {
                v.push(to_bool(b, key, start + i as u64)?);
            }
            MetaArray::Bool(v)
        }
        MetaType::String => {
            let mut v = Vec::with_capacity((count as usize).min(MAX_PREALLOC));
            for _ in 0..count {
                v.push(c.str().what(what)?.to_string());
            }
            MetaArray::String(v)
        }
        MetaType::Array => {
            let mut v = Vec::with_capacity((count as usize).min(MAX_PREALLOC));
            for _ in 0..count {
                v.push(read_array(c, key, depth + 1)?);
            }
            MetaArray::Array(v)
        }
    })
}

fn read_tensor_info(c: &mut Cursor, i: usize) -> Result<TensorInfo, GgufError> {
    let name = c.str().what(|| format!("name of tensor #{i}"))?.to_string();
    let what = || format!("info of tensor '{name}'");
    let n_dims = c.u32().what(what)?;
    if n_dims == 0 || n_dims as usize > MAX_DIMS {
        return Err(GgufError::BadDimCount {
            tensor: name,
            n_dims,
        });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(c.u64().what(what)?);
    }
    let id = c.u32().what(what)?;
    let offset = c.u64().what(what)?;
    let Some(ty) = GgmlType::from_id(id) else {
        return Err(GgufError::UnknownGgmlType { tensor: name, id });
    };
    TensorInfo::new(name, dims, ty, offset)
}
