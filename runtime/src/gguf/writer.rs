//! `GgufWriter`: builds GGUF v3 files that llama.cpp accepts (little-endian, offsets = running sum
//! of tensor sizes padded to the alignment). Tensor bytes may be produced lazily, in declaration
//! order, while the file is written, so a converter holds at most one tensor in memory.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use weft_kernels::GgmlType;

use super::encode::{put_str, put_value};
use super::error::{BoxError, GgufError};
use super::reader::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC, MAX_ARRAY_DEPTH, check_alignment};
use super::tensor::{pad, tensor_bytes};
use super::value::{MetaArray, MetaValue};

/// Bytes before the first metadata entry: magic, version, n_tensors, n_kv.
const HEADER_LEN: u64 = 4 + 4 + 8 + 8;
const VERSION: u32 = 3;

type Producer<'a> = Box<dyn FnOnce() -> Result<Vec<u8>, BoxError> + 'a>;

enum Source<'a> {
    Bytes(Vec<u8>),
    Lazy(Producer<'a>),
}

struct Pending<'a> {
    name: String,
    dims: Vec<u64>,
    ty: GgmlType,
    n_bytes: u64,
    source: Source<'a>,
}

/// Collects metadata and tensor declarations, then writes the file in one pass. `'a` bounds what
/// lazy producers may borrow (for example a memory-mapped source checkpoint).
pub struct GgufWriter<'a> {
    alignment: u64,
    /// Metadata entries, already encoded (they are small; keeps offsets for errors exact).
    kv: Vec<u8>,
    n_kv: u64,
    keys: HashSet<String>,
    tensors: Vec<Pending<'a>>,
    names: HashSet<String>,
}

impl Default for GgufWriter<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> GgufWriter<'a> {
    pub fn new() -> Self {
        GgufWriter {
            alignment: DEFAULT_ALIGNMENT,
            kv: Vec::new(),
            n_kv: 0,
            keys: HashSet::new(),
            tensors: Vec::new(),
            names: HashSet::new(),
        }
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    pub fn n_kv(&self) -> u64 {
        self.n_kv
    }

    pub fn n_tensors(&self) -> usize {
        self.tensors.len()
    }

    /// Sets the data alignment. Writes `general.alignment` only when it differs from 32.
    pub fn set_alignment(&mut self, alignment: u32) -> Result<(), GgufError> {
        if u64::from(alignment) == DEFAULT_ALIGNMENT && !self.keys.contains(ALIGNMENT_KEY) {
            return Ok(());
        }
        self.add_kv(ALIGNMENT_KEY, alignment)
    }

    /// Adds a metadata entry. `general.alignment` must be a power-of-two u32 and takes effect
    /// for the tensor layout.
    pub fn add_kv(&mut self, key: &str, value: impl Into<MetaValue>) -> Result<(), GgufError> {
        let value = value.into();
        let offset = HEADER_LEN + self.kv.len() as u64;
        if self.keys.contains(key) {
            return Err(GgufError::DuplicateKey {
                key: key.to_string(),
                offset,
            });
        }
        if let MetaValue::Array(a) = &value
            && a.depth() > MAX_ARRAY_DEPTH
        {
            return Err(GgufError::NestingTooDeep {
                key: key.to_string(),
                max: MAX_ARRAY_DEPTH,
                offset,
            });
        }
        if key == ALIGNMENT_KEY {
            self.alignment = check_alignment(&value, offset)?;
        }
        put_str(&mut self.kv, key);
        put_value(&mut self.kv, &value);
        self.keys.insert(key.to_string());
        self.n_kv += 1;
        Ok(())
    }

    pub fn add_u32(&mut self, key: &str, v: u32) -> Result<(), GgufError> {
        self.add_kv(key, v)
    }

    pub fn add_i32(&mut self, key: &str, v: i32) -> Result<(), GgufError> {
        self.add_kv(key, v)
    }

    pub fn add_u64(&mut self, key: &str, v: u64) -> Result<(), GgufError> {
        self.add_kv(key, v)
    }

    pub fn add_f32(&mut self, key: &str, v: f32) -> Result<(), GgufError> {
        self.add_kv(key, v)
    }

    pub fn add_bool(&mut self, key: &str, v: bool) -> Result<(), GgufError> {
        self.add_kv(key, v)
    }

    pub fn add_str(&mut self, key: &str, v: &str) -> Result<(), GgufError> {
        self.add_kv(key, v)
    }

    pub fn add_u32_array(&mut self, key: &str, v: &[u32]) -> Result<(), GgufError> {
        self.add_kv(key, v.to_vec())
    }

    pub fn add_i32_array(&mut self, key: &str, v: &[i32]) -> Result<(), GgufError> {
        self.add_kv(key, v.to_vec())
    }

    pub fn add_f32_array(&mut self, key: &str, v: &[f32]) -> Result<(), GgufError> {
        self.add_kv(key, v.to_vec())
    }

    pub fn add_str_array<S: AsRef<str>>(&mut self, key: &str, v: &[S]) -> Result<(), GgufError> {
        let v = v.iter().map(|s| s.as_ref().to_string()).collect();
        self.add_kv(key, MetaValue::Array(MetaArray::String(v)))
    }

    /// Declares a tensor whose bytes are already in memory.
    pub fn add_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        let n_bytes = self.check_tensor(name, dims, ty)?;
        check_size(name, n_bytes, data.len())?;
        self.push(name, dims, ty, n_bytes, Source::Bytes(data));
        Ok(())
    }

    /// Declares an F32 tensor from a slice of values.
    pub fn add_tensor_f32(
        &mut self,
        name: &str,
        dims: &[u64],
        data: &[f32],
    ) -> Result<(), GgufError> {
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.add_tensor(name, dims, GgmlType::F32, bytes)
    }

    /// Declares a tensor whose bytes `produce` returns when the writer reaches it. Its length is
    /// checked against `dims` and `ty` then.
    pub fn add_tensor_with<F, E>(
        &mut self,
        name: &str,
        dims: &[u64],
        ty: GgmlType,
        produce: F,
    ) -> Result<(), GgufError>
    where
        F: FnOnce() -> Result<Vec<u8>, E> + 'a,
        E: Into<BoxError>,
    {
        let n_bytes = self.check_tensor(name, dims, ty)?;
        let lazy: Producer<'a> = Box::new(move || produce().map_err(Into::into));
        self.push(name, dims, ty, n_bytes, Source::Lazy(lazy));
        Ok(())
    }

    fn check_tensor(&self, name: &str, dims: &[u64], ty: GgmlType) -> Result<u64, GgufError> {
        if self.names.contains(name) {
            return Err(GgufError::DuplicateTensor {
                tensor: name.to_string(),
            });
        }
        tensor_bytes(name, dims, ty)
    }

    fn push(&mut self, name: &str, dims: &[u64], ty: GgmlType, n_bytes: u64, source: Source<'a>) {
        self.names.insert(name.to_string());
        self.tensors.push(Pending {
            name: name.to_string(),
            dims: dims.to_vec(),
            ty,
            n_bytes,
            source,
        });
    }

    /// Header, metadata and tensor infos, up to (not including) the data-section padding.
    fn header(&self) -> Result<Vec<u8>, GgufError> {
        let mut out = Vec::with_capacity(self.kv.len() + 64 * self.tensors.len() + 64);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.n_kv.to_le_bytes());
        out.extend_from_slice(&self.kv);
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&t.ty.id().to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offset = offset
                .checked_add(t.n_bytes)
                .and_then(|end| pad(end, self.alignment))
                .ok_or_else(|| GgufError::DimsOverflow {
                    tensor: t.name.clone(),
                    dims: t.dims.clone(),
                    ty: t.ty,
                })?;
        }
        Ok(out)
    }

    /// Writes the whole file, calling lazy producers in declaration order. Returns bytes written.
    pub fn write_to<W: Write>(self, w: &mut W) -> Result<u64, GgufError> {
        let io = |source| GgufError::Write { source };
        let header = self.header()?;
        w.write_all(&header).map_err(io)?;
        let mut pos = header.len() as u64;
        pos = write_padding(w, pos, self.alignment).map_err(io)?;
        for t in self.tensors {
            let data = match t.source {
                Source::Bytes(b) => b,
                Source::Lazy(f) => f().map_err(|source| GgufError::Producer {
                    tensor: t.name.clone(),
                    source,
                })?,
            };
            check_size(&t.name, t.n_bytes, data.len())?;
            w.write_all(&data).map_err(io)?;
            pos = write_padding(w, pos + t.n_bytes, self.alignment).map_err(io)?;
        }
        Ok(pos)
    }

    /// Writes to `path` through a temporary file beside it, renamed into place only once
    /// complete, so a failed conversion never leaves a half-written model under the real name.
    pub fn write_to_path(self, path: impl AsRef<Path>) -> Result<u64, GgufError> {
        let path = path.as_ref();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = self.write_file(&tmp).and_then(|n| {
            fs::rename(&tmp, path).map_err(|source| GgufError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(n)
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn write_file(self, tmp: &Path) -> Result<u64, GgufError> {
        let io = |source| GgufError::Io {
            path: tmp.to_path_buf(),
            source,
        };
        let mut w = BufWriter::with_capacity(1 << 20, File::create(tmp).map_err(io)?);
        let n = self.write_to(&mut w).map_err(|e| match e {
            GgufError::Write { source } => io(source),
            other => other,
        })?;
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        Ok(n)
    }

    /// The whole file in memory.
    pub fn into_bytes(self) -> Result<Vec<u8>, GgufError> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }
}

fn check_size(name: &str, expected: u64, got: usize) -> Result<(), GgufError> {
    if got as u64 != expected {
        return Err(GgufError::TensorSize {
            tensor: name.to_string(),
            expected,
            got: got as u64,
        });
    }
    Ok(())
}

/// Zero-fills from `pos` to the next multiple of `align`; returns the new position.
fn write_padding<W: Write>(w: &mut W, pos: u64, align: u64) -> std::io::Result<u64> {
    const ZEROS: [u8; 4096] = [0; 4096];
    let end = pad(pos, align).ok_or(std::io::ErrorKind::FileTooLarge)?;
    let mut left = end - pos;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        w.write_all(&ZEROS[..n])?;
        left -= n as u64;
    }
    Ok(end)
}
