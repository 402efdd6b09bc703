//! A Hugging Face model folder: `config.json` plus safetensors weights (single file or sharded),
//! memory-mapped and decoded to f32 one tensor at a time.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use super::ConvertError;
use super::config::HfConfig;

type Result<T> = std::result::Result<T, ConvertError>;

/// Where one tensor lives: shard, dtype, shape and byte range inside the shard's data section.
#[derive(Debug, Clone)]
struct Entry {
    shard: usize,
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

struct Shard {
    path: PathBuf,
    map: Mmap,
    data_start: usize,
}

/// Makes up a tensor's values from its name and PyTorch shape (row-major f32).
pub type InitFn = Box<dyn Fn(&str, &[usize]) -> Vec<f32> + Send + Sync>;

/// A checkpoint with no files (`weft synth`): every tensor the converter asks for exists with
/// the shape it asks for (except those `absent` names), and its values come from `init` when it
/// is read. The converter's own name tables and transforms then describe the model.
pub struct Synthetic {
    pub init: InitFn,
    /// Names the checkpoint lacks (alternative spellings the converter should not pick).
    pub absent: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// Shapes the converter asked for, by name.
    shapes: Mutex<HashMap<String, Vec<usize>>>,
}

impl Synthetic {
    pub fn new(init: InitFn, absent: Box<dyn Fn(&str) -> bool + Send + Sync>) -> Self {
        Synthetic {
            init,
            absent,
            shapes: Mutex::new(HashMap::new()),
        }
    }

    fn shapes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<usize>>> {
        self.shapes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An opened Hugging Face folder.
pub struct HfModel {
    dir: PathBuf,
    config: HfConfig,
    shards: Vec<Shard>,
    entries: HashMap<String, Entry>,
    synthetic: Option<Synthetic>,
}

impl std::fmt::Debug for HfModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfModel")
            .field("dir", &self.dir)
            .field("tensors", &self.entries.len())
            .finish()
    }
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConvertError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            ConvertError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|source| ConvertError::Json {
        path: path.to_path_buf(),
        source,
    })
}

impl HfModel {
    /// Opens `dir`: reads config.json and indexes `model.safetensors` or the shards listed in
    /// `model.safetensors.index.json`. No tensor data is read yet.
    pub fn open(dir: &Path) -> Result<Self> {
        let config = HfConfig::new(read_json(&dir.join("config.json"))?)?;
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        let mut model = HfModel {
            dir: dir.to_path_buf(),
            config,
            shards: Vec::new(),
            entries: HashMap::new(),
            synthetic: None,
        };
        if index.is_file() {
            model.open_sharded(&index)?;
        } else if single.is_file() {
            model.add_shard(&single)?;
        } else {
            return Err(ConvertError::MissingFile { path: single });
        }
        Ok(model)
    }

    fn open_sharded(&mut self, index: &Path) -> Result<()> {
        let json = read_json(index)?;
        let bad = |reason: &str| ConvertError::Safetensors {
            path: index.to_path_buf(),
            reason: reason.to_string(),
        };
        let map = json
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no \"weight_map\" object"))?;
        let mut files: Vec<&str> = Vec::new();
        for (name, file) in map {
            let file = file
                .as_str()
                .ok_or_else(|| bad(&format!("weight_map entry {name:?} is not a file name")))?;
            // Shard names must stay inside the folder.
            if file.contains('/') || file.contains('\\') || file == ".." {
                return Err(bad(&format!(
                    "shard name {file:?} is not a plain file name"
                )));
            }
            if !files.contains(&file) {
                files.push(file);
            }
        }
        files.sort_unstable();
        for file in files {
            self.add_shard(&self.dir.join(file))?;
        }
        for (name, file) in map {
            let file = file.as_str().unwrap_or_default();
            let found = self
                .entries
                .get(name)
                .is_some_and(|e| self.shards[e.shard].path.file_name() == Some(file.as_ref()));
            if !found {
                return Err(ConvertError::MissingTensor {
                    name: name.clone(),
                    dir: self.dir.join(file),
                });
            }
        }
        Ok(())
    }

    fn add_shard(&mut self, path: &Path) -> Result<()> {
        let io = |source| ConvertError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConvertError::MissingFile {
                    path: path.to_path_buf(),
                }
            } else {
                io(source)
            }
        })?;
        // SAFETY: the file is opened read-only; like every mmap reader we rely on it not being
        // truncated while the conversion runs.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let (header_len, meta) =
            SafeTensors::read_metadata(&map).map_err(|e| ConvertError::Safetensors {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let shard = self.shards.len();
        for (name, info) in meta.tensors() {
            if let Some(prev) = self.entries.get(&name) {
                return Err(ConvertError::Safetensors {
                    path: path.to_path_buf(),
                    reason: format!(
                        "tensor {name:?} is also in {}",
                        self.shards[prev.shard].path.display()
                    ),
                });
            }
            let entry = Entry {
                shard,
                dtype: info.dtype,
                shape: info.shape.clone(),
                start: info.data_offsets.0,
                end: info.data_offsets.1,
            };
            self.entries.insert(name, entry);
        }
        self.shards.push(Shard {
            path: path.to_path_buf(),
            map,
            data_start: 8 + header_len,
        });
        Ok(())
    }

    /// A checkpoint described by `config` (a config.json object) whose tensors `synthetic`
    /// makes up; `dir` only names it in messages.
    pub fn synthetic(dir: &Path, config: Value, synthetic: Synthetic) -> Result<Self> {
        Ok(HfModel {
            dir: dir.to_path_buf(),
            config: HfConfig::new(config)?,
            shards: Vec::new(),
            entries: HashMap::new(),
            synthetic: Some(synthetic),
        })
    }

    /// The folder this model was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed config.json.
    pub fn config(&self) -> &HfConfig {
        &self.config
    }

    /// Whether the checkpoint has a tensor called `name`.
    pub fn has(&self, name: &str) -> bool {
        match &self.synthetic {
            Some(s) => !(s.absent)(name),
            None => self.entries.contains_key(name),
        }
    }

    /// All tensor names (unordered); of a synthetic checkpoint, those read so far.
    pub fn names(&self) -> Vec<String> {
        match &self.synthetic {
            Some(s) => s.shapes().keys().cloned().collect(),
            None => self.entries.keys().cloned().collect(),
        }
    }

    fn missing(&self, name: &str) -> ConvertError {
        ConvertError::MissingTensor {
            name: name.to_string(),
            dir: self.dir.clone(),
        }
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries
            .get(name)
            .ok_or_else(|| ConvertError::MissingTensor {
                name: name.to_string(),
                dir: self.dir.clone(),
            })
    }

    /// The PyTorch shape of `name`.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        match &self.synthetic {
            Some(s) => s
                .shapes()
                .get(name)
                .cloned()
                .ok_or_else(|| self.missing(name)),
            None => Ok(self.entry(name)?.shape.clone()),
        }
    }

    /// Checks that `name` exists, has PyTorch shape `expected` and a dtype we can decode.
    pub fn expect(&self, name: &str, expected: &[usize]) -> Result<()> {
        if let Some(s) = &self.synthetic {
            if (s.absent)(name) {
                return Err(self.missing(name));
            }
            let mut shapes = s.shapes();
            let got = shapes
                .entry(name.to_string())
                .or_insert_with(|| expected.to_vec());
            if got != expected {
                return Err(ConvertError::ShapeMismatch {
                    name: name.to_string(),
                    expected: expected.to_vec(),
                    got: got.clone(),
                });
            }
            return Ok(());
        }
        let e = self.entry(name)?;
        if e.shape != expected {
            return Err(ConvertError::ShapeMismatch {
                name: name.to_string(),
                expected: expected.to_vec(),
                got: e.shape.clone(),
            });
        }
        if !matches!(e.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16) {
            return Err(ConvertError::UnsupportedDtype {
                name: name.to_string(),
                dtype: format!("{:?}", e.dtype),
            });
        }
        Ok(())
    }

    /// Reads `name` as f32 values in row-major (PyTorch) order.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        if let Some(s) = &self.synthetic {
            let shape = self.shape(name)?;
            return Ok((s.init)(name, &shape));
        }
        let e = self.entry(name)?;
        let shard = &self.shards[e.shard];
        let bytes = shard
            .map
            .get(shard.data_start + e.start..shard.data_start + e.end)
            .ok_or_else(|| ConvertError::Safetensors {
                path: shard.path.clone(),
                reason: format!("tensor {name:?} lies outside the file"),
            })?;
        let out = match e.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(ConvertError::UnsupportedDtype {
                    name: name.to_string(),
                    dtype: format!("{other:?}"),
                });
            }
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;

    fn write_st(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, path).unwrap();
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_all_float_dtypes_and_checks_shapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"architectures":["X"]}"#).unwrap();
        let f16: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
            .collect();
        let bf16: Vec<u8> = [0.25f32, 3.0]
            .iter()
            .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
            .collect();
        write_st(
            &dir.path().join("model.safetensors"),
            &[
                (
                    "a",
                    Dtype::F32,
                    vec![2, 2],
                    f32_bytes(&[1.0, 2.0, 3.0, 4.0]),
                ),
                ("b", Dtype::F16, vec![2], f16),
                ("c", Dtype::BF16, vec![2], bf16),
                ("d", Dtype::I32, vec![1], vec![0; 4]),
            ],
        );
        let m = HfModel::open(dir.path()).unwrap();
        assert_eq!(m.read_f32("a").unwrap(), [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.read_f32("b").unwrap(), [1.5, -2.0]);
        assert_eq!(m.read_f32("c").unwrap(), [0.25, 3.0]);
        m.expect("a", &[2, 2]).unwrap();
        let err = m.expect("a", &[4]).unwrap_err();
        assert!(matches!(err, ConvertError::ShapeMismatch { ref name, .. } if name == "a"));
        assert!(matches!(
            m.expect("d", &[1]).unwrap_err(),
            ConvertError::UnsupportedDtype { .. }
        ));
        let err = m.read_f32("zzz").unwrap_err();
        assert!(matches!(err, ConvertError::MissingTensor { ref name, .. } if name == "zzz"));
    }

    #[test]
    fn reads_sharded_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), r#"{"architectures":["X"]}"#).unwrap();
        write_st(
            &dir.path().join("model-00001-of-00002.safetensors"),
            &[("a", Dtype::F32, vec![1], f32_bytes(&[7.0]))],
        );
        write_st(
            &dir.path().join("model-00002-of-00002.safetensors"),
            &[("b", Dtype::F32, vec![1], f32_bytes(&[8.0]))],
        );
        let index = r#"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#;
        std::fs::write(dir.path().join("model.safetensors.index.json"), index).unwrap();
        let m = HfModel::open(dir.path()).unwrap();
        assert_eq!(m.read_f32("a").unwrap(), [7.0]);
        assert_eq!(m.read_f32("b").unwrap(), [8.0]);

        // An index naming a tensor that its shard lacks is an error naming both.
        let index = r#"{"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}"#;
        std::fs::write(dir.path().join("model.safetensors.index.json"), index).unwrap();
        let err = HfModel::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("\"c\"") && err.contains("model-00002-of-00002"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = HfModel::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, ConvertError::MissingFile { ref path } if path.ends_with("config.json"))
        );
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        let err = HfModel::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, ConvertError::MissingFile { ref path } if path.ends_with("model.safetensors"))
        );
    }
}
