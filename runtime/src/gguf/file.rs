//! `Gguf`: a validated, zero-copy view of one GGUF file, backed by an mmap or an owned buffer.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
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
    /// The file read into private memory advised for huge pages ([`Placement::HugePages`]).
    Private(Mmap),
    Owned(Vec<u8>),
    /// An owned buffer copied into u64s because the caller's `Vec<u8>` was not 8-byte aligned.
    Aligned(Vec<u64>, usize),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Mmap(m) | Storage::Private(m) => m,
            Storage::Owned(v) => v,
            Storage::Aligned(v, len) => &bytemuck::cast_slice(v)[..*len],
        }
    }
}

/// Where [`Gguf::open_with`] puts the file's bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Memory-mapped: zero-copy, loads in milliseconds, pages read on first use and shared with
    /// the page cache (and with other processes mapping the same file).
    #[default]
    Mapped,
    /// Read into private memory advised for transparent huge pages (Linux, Android): decode
    /// walks the weights through 512× fewer TLB entries. Costs a read of the whole file at load
    /// and private memory the size of the file. Where the OS has no huge pages it is a plain
    /// private copy.
    HugePages,
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
        let io = io_error(path);
        let file = File::open(path).map_err(&io)?;
        // SAFETY: the map is read-only. Another process truncating or rewriting the file while it
        // is mapped is outside what any mmap-based reader can defend against (SIGBUS), as in ggml.
        let map = unsafe { Mmap::map(&file) }.map_err(&io)?;
        Self::from_storage(Storage::Mmap(map))
    }

    /// Opens the file at `path` placed as `placement` asks. `progress` gets the fraction of the
    /// file read so far (only [`Placement::HugePages`] reads it at load); returning false stops
    /// the load with [`GgufError::Cancelled`].
    pub fn open_with(
        path: impl AsRef<Path>,
        placement: Placement,
        progress: &mut dyn FnMut(f32) -> bool,
    ) -> Result<Gguf, GgufError> {
        let path = path.as_ref();
        if placement == Placement::Mapped {
            return Self::open(path);
        }
        let io = io_error(path);
        let mut file = File::open(path).map_err(&io)?;
        let len = file.metadata().map_err(&io)?.len();
        let len = usize::try_from(len).map_err(|_| io(std::io::ErrorKind::OutOfMemory.into()))?;
        if len == 0 {
            // Anonymous maps cannot be empty; an empty file fails the parse the same either way.
            return Self::from_bytes(Vec::new());
        }
        // An anonymous map is page-aligned, so tensor data keeps its alignment.
        let mut buf = memmap2::MmapMut::map_anon(len).map_err(&io)?;
        crate::mem::advise_huge_pages(&buf[..]);
        const CHUNK: usize = 16 << 20;
        let mut done = 0;
        while done < len {
            let end = (done + CHUNK).min(len);
            file.read_exact(&mut buf[done..end]).map_err(&io)?;
            done = end;
            if !progress(done as f32 / len as f32) {
                return Err(GgufError::Cancelled);
            }
        }
        let map = buf.make_read_only().map_err(&io)?;
        Self::from_storage(Storage::Private(map))
    }

    /// How the file's bytes are held.
    pub fn placement(&self) -> Placement {
        match self.storage {
            Storage::Private(_) => Placement::HugePages,
            _ => Placement::Mapped,
        }
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

/// Wraps an I/O failure on `path` as [`GgufError::Io`].
fn io_error(path: &Path) -> impl Fn(std::io::Error) -> GgufError + '_ {
    move |source| GgufError::Io {
        path: path.to_path_buf(),
        source,
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

    fn file_of(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    #[test]
    fn huge_page_placement_holds_the_files_bytes_and_reports_progress() {
        let mut w = GgufWriter::new();
        let values: Vec<f32> = (0..300_000).map(|i| i as f32 * 0.5).collect();
        w.add_tensor_f32("x", &[values.len() as u64], &values)
            .unwrap();
        let bytes = w.into_bytes().unwrap();
        let f = file_of(&bytes);
        let mut seen = Vec::new();
        let g = Gguf::open_with(f.path(), Placement::HugePages, &mut |p| {
            seen.push(p);
            true
        })
        .unwrap();
        assert_eq!(g.placement(), Placement::HugePages);
        assert_eq!(g.as_bytes(), &bytes[..]);
        assert_eq!(g.tensor_f32("x").unwrap(), &values[..]);
        assert_eq!(seen.last(), Some(&1.0));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        let mapped = Gguf::open_with(f.path(), Placement::Mapped, &mut |_| true).unwrap();
        assert_eq!(mapped.placement(), Placement::Mapped);
    }

    #[test]
    fn huge_page_placement_fails_like_the_mapped_one() {
        let mut cancel = |_: f32| false;
        let f = file_of(&GgufWriter::new().into_bytes().unwrap());
        assert!(matches!(
            Gguf::open_with(f.path(), Placement::HugePages, &mut cancel),
            Err(GgufError::Cancelled)
        ));
        for bad in [&b""[..], b"GGUF", b"NOPE\x03\0\0\0"] {
            let f = file_of(bad);
            let mapped = Gguf::open(f.path()).unwrap_err().to_string();
            let huge = Gguf::open_with(f.path(), Placement::HugePages, &mut |_| true);
            assert_eq!(huge.unwrap_err().to_string(), mapped);
        }
        let missing = Gguf::open_with("/nonexistent/x.gguf", Placement::HugePages, &mut |_| true);
        assert!(matches!(missing, Err(GgufError::Io { .. })));
    }
}
