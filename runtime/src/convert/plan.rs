//! The conversion plan: metadata key/values plus one lazy loader per output tensor.
//!
//! Architecture modules check every source tensor's shape while building the plan (so a bad
//! checkpoint fails before anything is written) and describe the data as loaders that read and
//! transform one tensor when the writer asks for it, so memory stays near one tensor.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use weft_kernels::GgmlType;

use super::ConvertError;
use super::hf::HfModel;
use super::policy::{OutType, tensor_type};
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

/// Produces a tensor's f32 values in GGML order (ne0 fastest), reading the checkpoint lazily.
pub type Loader = Box<dyn FnOnce() -> Result<Vec<f32>> + Send>;

/// One output tensor, produced as consecutive parts of whole rows (one part for most tensors, one
/// per expert for stacked experts) so that each part is encoded on its own and only one part's
/// f32 values are alive at a time. Quantization works row by row, so the bytes are the same.
pub struct PlannedTensor {
    pub name: String,
    /// GGML order: `dims[0]` = ne0 = row length.
    pub dims: Vec<usize>,
    pub ty: GgmlType,
    pub parts: Vec<Loader>,
}

/// Everything a GGUF file will hold, before any tensor data is read.
pub struct Plan {
    pub arch: &'static str,
    pub kvs: Vec<(String, MetaValue)>,
    pub tensors: Vec<PlannedTensor>,
    pub out: OutType,
    hf: Arc<HfModel>,
    /// Checkpoint tensors some loader reads (to report the ones left out).
    used: RefCell<HashSet<String>>,
}

/// Converts a size to the u32 GGUF keys use, naming the key on overflow.
pub fn to_u32(key: &str, v: usize) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| ConvertError::config(key, format!("value {v} does not fit in u32")))
}

/// Reverses a PyTorch shape into GGML order.
pub fn ggml_dims(shape: &[usize]) -> Vec<usize> {
    shape.iter().rev().copied().collect()
}

impl Plan {
    pub fn new(arch: &'static str, hf: Arc<HfModel>, out: OutType) -> Self {
        Plan {
            arch,
            kvs: Vec::new(),
            tensors: Vec::new(),
            out,
            hf,
            used: RefCell::new(HashSet::new()),
        }
    }

    /// The checkpoint being converted.
    pub fn hf(&self) -> &HfModel {
        &self.hf
    }

    /// Sets a metadata key (replacing an earlier value of the same key).
    pub fn kv(&mut self, key: impl Into<String>, value: MetaValue) {
        let key = key.into();
        if let Some(slot) = self.kvs.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.kvs.push((key, value));
        }
    }

    /// Sets `{arch}.{suffix}`.
    pub fn arch_kv(&mut self, suffix: &str, value: MetaValue) {
        let key = format!("{}.{suffix}", self.arch);
        self.kv(key, value);
    }

    /// Sets `{arch}.{suffix}` to a u32, checking the range.
    pub fn arch_u32(&mut self, suffix: &str, v: usize) -> Result<()> {
        let v = to_u32(suffix, v)?;
        self.arch_kv(suffix, MetaValue::U32(v));
        Ok(())
    }

    /// Sets `{arch}.{suffix}` to an f32.
    pub fn arch_f32(&mut self, suffix: &str, v: f64) {
        self.arch_kv(suffix, MetaValue::F32(v as f32));
    }

    /// Checks that checkpoint tensor `name` has PyTorch shape `shape` and returns its loader.
    pub fn source(&self, name: &str, shape: &[usize]) -> Result<Loader> {
        self.hf.expect(name, shape)?;
        self.used.borrow_mut().insert(name.to_string());
        let hf = Arc::clone(&self.hf);
        let name = name.to_string();
        Ok(Box::new(move || hf.read_f32(&name)))
    }

    /// Checkpoint tensors no output tensor is made from, sorted.
    pub fn unused_sources(&self) -> Vec<String> {
        let used = self.used.borrow();
        let mut v: Vec<String> = self
            .hf
            .names()
            .into_iter()
            .filter(|n| !used.contains(n))
            .collect();
        v.sort();
        v
    }

    /// The first of `names` the checkpoint has (for alternative spellings), or a missing-tensor
    /// error naming the first.
    pub fn first_present<'n>(&self, names: &[&'n str]) -> Result<&'n str> {
        names
            .iter()
            .copied()
            .find(|n| self.hf.has(n))
            .ok_or_else(|| ConvertError::MissingTensor {
                name: names[0].to_string(),
                dir: self.hf.dir().to_path_buf(),
            })
    }

    /// Adds an output tensor with GGML dims `dims`.
    pub fn push(&mut self, name: impl Into<String>, dims: Vec<usize>, load: Loader) {
        self.push_parts(name, dims, vec![load]);
    }

    /// Adds an output tensor made of consecutive parts, each a whole number of rows.
    pub fn push_parts(&mut self, name: impl Into<String>, dims: Vec<usize>, parts: Vec<Loader>) {
        let name = name.into();
        debug_assert!(
            self.tensors.iter().all(|t| t.name != name),
            "duplicate tensor {name}"
        );
        let ty = tensor_type(&name, &dims, self.out);
        self.tensors.push(PlannedTensor {
            name,
            dims,
            ty,
            parts,
        });
    }

    /// Copies checkpoint tensor `hf_name` (PyTorch shape `shape`) unchanged as `name`.
    pub fn copy(&mut self, name: impl Into<String>, hf_name: &str, shape: &[usize]) -> Result<()> {
        let load = self.source(hf_name, shape)?;
        self.push(name, ggml_dims(shape), load);
        Ok(())
    }

    /// Copies `hf_name` (PyTorch shape `shape`) under GGML dims `dims` (same element count).
    pub fn copy_as(
        &mut self,
        name: impl Into<String>,
        hf_name: &str,
        shape: &[usize],
        dims: Vec<usize>,
    ) -> Result<()> {
        debug_assert_eq!(
            shape.iter().product::<usize>(),
            dims.iter().product::<usize>()
        );
        let load = self.source(hf_name, shape)?;
        self.push(name, dims, load);
        Ok(())
    }
}

/// Applies `f` to a loader's values.
pub fn map(load: Loader, f: impl FnOnce(Vec<f32>) -> Vec<f32> + Send + 'static) -> Loader {
    Box::new(move || load().map(f))
}

/// `A_log → A = -exp(A_log)`, rounded once from f64 so the result is the correctly rounded f32.
pub fn neg_exp(load: Loader) -> Loader {
    map(load, |v| {
        v.into_iter()
            .map(|x| -(f64::from(x).exp()) as f32)
            .collect()
    })
}

/// Rows `[start, start+len)` of a row-major matrix with rows of `row_len` values, repeated for
/// each of `outer` leading blocks of `block_rows` rows (a slice of the middle dimension of a
/// `[outer, block_rows, row_len]` tensor).
pub fn rows(
    load: Loader,
    outer: usize,
    block_rows: usize,
    row_len: usize,
    start: usize,
    len: usize,
) -> Loader {
    map(load, move |v| {
        let mut out = Vec::with_capacity(outer * len * row_len);
        for o in 0..outer {
            let base = (o * block_rows + start) * row_len;
            out.extend_from_slice(&v[base..base + len * row_len]);
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(v: Vec<f32>) -> Loader {
        Box::new(move || Ok(v))
    }

    #[test]
    fn transforms() {
        let a = neg_exp(vals(vec![0.0, 1.0]))().unwrap();
        assert_eq!(a, [-1.0, -std::f32::consts::E]);
        // [2 blocks, 3 rows, 2 cols]: take rows 1..3 of each block.
        let m: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let r = rows(vals(m), 2, 3, 2, 1, 2)().unwrap();
        assert_eq!(r, [2.0, 3.0, 4.0, 5.0, 8.0, 9.0, 10.0, 11.0]);
    }
}
