//! `Gguf`: a validated, zero-copy view of one GGUF file, backed by an mmap or an owned buffer.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use memmap2::Mmap;
use weft_kernels::GgmlType;

use super::error::GgufError;
use super::reader::parse;
use super::tensor::TensorInfo;
use super::value::MetaValue;

/// Where the file's bytes live.
enum Storage {
    Mmap(Mmap),
    Owned(Vec<u8>),
    /// An owned buffer copied into u64s because the caller's `Vec<u8>` was not 8-byte aligned.
    Aligned(Vec<u64>, usize),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mmap(m) => m,
            Storage::Owned(v) => v,
            Storage::Aligned(v, len) => &bytemuck::cast_slice(v)[..*len],
        }
    }
}

/// A GGUF file whose header, metadata and tensor layout have all been checked (see the module
/// docs). Tensor data is borrowed straight from the underlying bytes.
pub struct Gguf {
    storage: Storage,
    version: u32,
    alignment: u64,
    metadata: Vec<(String, MetaValue)>,
    key_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    data_offset: u64,
}

impl std::fmt::Debug for Gguf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gguf")
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("n_kv", &self.metadata.len())
            .field("n_tensors", &self.tensors.len())
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl Gguf {
    /// Memory-maps and validates the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Gguf, GgufError> {
        let path = path.as_ref();
        let io = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the map is read-only. Another process truncating or rewriting the file while it
        // is mapped is outside what any mmap-based reader can defend against (SIGBUS), as in ggml.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        Self::from_storage(Storage::Mmap(map))
    }

    /// Validates an in-memory file (converter parity tests, the fuzzer).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Gguf, GgufError> {
        // Tensor data is aligned relative to the buffer start; keep the buffer itself 8-aligned
        // so f32/f64/u64 views of aligned tensors work. The allocator almost always gives this.
        if bytes.as_ptr().align_offset(8) == 0 {
            return Self::from_storage(Storage::Owned(bytes));
        }
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        Self::from_storage(Storage::Aligned(words, bytes.len()))
    }

    fn from_storage(storage: Storage) -> Result<Gguf, GgufError> {
        let p = parse(storage.bytes())?;
        let key_index = index(p.metadata.iter().map(|(k, _)| k));
        let tensor_index = index(p.tensors.iter().map(|t| &t.name));
        Ok(Gguf {
            storage,
            version: p.version,
            alignment: p.alignment,
            metadata: p.metadata,
            key_index,
            tensors: p.tensors,
            tensor_index,
            data_offset: p.data_offset,
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// `general.alignment`, or 32 when absent.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// File offset of the data section (tensor offsets are relative to it).
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// The whole file.
    pub fn as_bytes(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// Metadata in file order.
    pub fn metadata(&self) -> impl ExactSizeIterator<Item = (&str, &MetaValue)> + '_ {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// Tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The tensor's bytes, borrowed from the file.
    ///
    /// # Panics
    /// If `info` came from a different `Gguf` whose tensor does not fit in this file; infos from
    /// this file were bounds-checked at open.
    pub fn tensor_bytes(&self, info: &TensorInfo) -> &[u8] {
        let slice = || {
            let start = self.data_offset.checked_add(info.offset)?;
            let end = start.checked_add(info.n_bytes)?;
            let range = usize::try_from(start).ok()?..usize::try_from(end).ok()?;
            self.as_bytes().get(range)
        };
        slice().expect("TensorInfo does not belong to this Gguf")
    }

    /// The named tensor's bytes.
    pub fn tensor_data(&self, name: &str) -> Result<&[u8], GgufError> {
        Ok(self.tensor_bytes(self.require_tensor(name)?))
    }

    /// The named F32 tensor as `&[f32]`, without copying.
    pub fn tensor_f32(&self, name: &str) -> Result<&[f32], GgufError> {
        let t = self.require_tensor(name)?;
        if t.ty != GgmlType::F32 {
            return Err(GgufError::TensorType {
                tensor: name.to_string(),
                expected: GgmlType::F32,
                found: t.ty,
            });
        }
        bytemuck::try_cast_slice(self.tensor_bytes(t)).map_err(|_| GgufError::TensorMisaligned {
            tensor: name.to_string(),
            expected: GgmlType::F32,
        })
    }

    fn require_tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensor(name).ok_or_else(|| GgufError::MissingTensor {
            tensor: name.to_string(),
        })
    }
}

fn index<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    names.enumerate().map(|(i, n)| (n.clone(), i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufWriter;

    #[test]
    fn u64_backed_storage_views_the_same_bytes() {
        let mut w = GgufWriter::new();
        w.add_tensor_f32("x", &[3], &[1.0, -2.0, 0.5]).unwrap();
        let bytes = w.into_bytes().unwrap();
        let mut words = vec![0u64; bytes.len().div_ceil(8) + 1];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        let g = Gguf::from_storage(Storage::Aligned(words, bytes.len())).unwrap();
        assert_eq!(g.as_bytes(), &bytes[..]);
        assert_eq!(g.tensor_f32("x").unwrap(), [1.0, -2.0, 0.5]);
    }
}
