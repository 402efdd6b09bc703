//! Shape-checked weights bound to the Plan.
//!
//! Matrices stay where they are in the (memory-mapped) file, in any type the kernels can read;
//! small tensors (norms, biases, `A`, `D`, conv taps, routers) are copied out as f32 at load.
//! Blocks refer to weights by [`Mat`] / [`Vector`] handles, indices into a [`WeightTable`].

use std::collections::HashMap;

use weft_kernels::GgmlType;
use weft_kernels::cpu::matvec::WeightView;

use crate::error::ModelError;
use crate::gguf::{Gguf, TensorInfo};
use crate::program::WeightId;

/// A matrix `[rows, cols]` (ggml `{cols, rows}`), or `experts` of them stacked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mat {
    pub id: WeightId,
    pub rows: usize,
    pub cols: usize,
    pub experts: usize,
}

/// An f32 vector (possibly a flattened small matrix such as conv taps `{K, C}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vector {
    pub id: WeightId,
    pub len: usize,
}

/// How a weight is held.
#[derive(Debug)]
pub(crate) enum Stored {
    Vector(Vec<f32>),
    Matrix {
        tensor: TensorInfo,
        ty: GgmlType,
        rows: usize,
        cols: usize,
        experts: usize,
    },
}

/// Every weight the Plan uses, indexed by [`WeightId`].
#[derive(Debug, Default)]
pub struct WeightTable {
    pub(crate) names: Vec<String>,
    pub(crate) stored: Vec<Stored>,
}

impl WeightTable {
    pub fn len(&self) -> usize {
        self.stored.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stored.is_empty()
    }

    pub fn name(&self, id: WeightId) -> &str {
        &self.names[id.0 as usize]
    }
}

/// Looks tensors up by name, checks their shapes and records them in a [`WeightTable`].
pub struct Binder<'a> {
    gguf: &'a Gguf,
    table: WeightTable,
    by_name: HashMap<String, WeightId>,
}

impl<'a> Binder<'a> {
    pub fn new(gguf: &'a Gguf) -> Self {
        Binder {
            gguf,
            table: WeightTable::default(),
            by_name: HashMap::new(),
        }
    }

    pub fn finish(self) -> WeightTable {
        self.table
    }

    pub fn has(&self, name: &str) -> bool {
        self.gguf.tensor(name).is_some()
    }

    fn info(&self, name: &str) -> Result<&'a TensorInfo, ModelError> {
        self.gguf
            .tensor(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))
    }

    /// A `[rows, cols]` matrix (ggml `{cols, rows}`) read in place.
    pub fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<Mat, ModelError> {
        self.stacked(name, rows, cols, 1, &[cols, rows])
    }

    /// `experts` matrices `[rows, cols]` stacked in one tensor (ggml `{cols, rows, experts}`).
    pub fn experts(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
        experts: usize,
    ) -> Result<Mat, ModelError> {
        self.stacked(name, rows, cols, experts, &[cols, rows, experts])
    }

    pub fn opt_matrix(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<Option<Mat>, ModelError> {
        if self.has(name) {
            self.matrix(name, rows, cols).map(Some)
        } else {
            Ok(None)
        }
    }

    fn stacked(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
        experts: usize,
        dims: &[usize],
    ) -> Result<Mat, ModelError> {
        let info = self.info(name)?;
        check_dims(info, dims)?;
        if !info.ty.is_computable() {
            return Err(ModelError::UnsupportedType {
                tensor: name.to_string(),
                ty: info.ty,
            });
        }
        let bytes = self.gguf.tensor_bytes(info);
        WeightView::new(info.ty, bytes, rows * experts, cols).map_err(|e| ModelError::Tensor {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        let id = self.intern(name, || Stored::Matrix {
            tensor: info.clone(),
            ty: info.ty,
            rows,
            cols,
            experts,
        });
        Ok(Mat {
            id,
            rows,
            cols,
            experts,
        })
    }

    /// A small tensor of the given ggml dims, copied out as f32.
    pub fn vector(&mut self, name: &str, dims: &[usize]) -> Result<Vector, ModelError> {
        let info = self.info(name)?;
        check_dims(info, dims)?;
        let len = dims.iter().product();
        if !matches!(info.ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16) {
            return Err(ModelError::UnsupportedType {
                tensor: name.to_string(),
                ty: info.ty,
            });
        }
        if let Some(&id) = self.by_name.get(name) {
            return Ok(Vector { id, len });
        }
        let mut values = vec![0.0f32; len];
        let bytes = self.gguf.tensor_bytes(info);
        let view = WeightView::new(info.ty, bytes, 1, len).map_err(|e| ModelError::Tensor {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        weft_kernels::cpu::matvec::dequantize_row_into(&view, 0, &mut values);
        let id = self.intern(name, || Stored::Vector(values));
        Ok(Vector { id, len })
    }

    pub fn opt_vector(&mut self, name: &str, dims: &[usize]) -> Result<Option<Vector>, ModelError> {
        if self.has(name) {
            self.vector(name, dims).map(Some)
        } else {
            Ok(None)
        }
    }

    fn intern(&mut self, name: &str, stored: impl FnOnce() -> Stored) -> WeightId {
        if let Some(&id) = self.by_name.get(name) {
            return id;
        }
        let id = WeightId(self.table.stored.len() as u32);
        self.table.names.push(name.to_string());
        self.table.stored.push(stored());
        self.by_name.insert(name.to_string(), id);
        id
    }
}

/// Compares ggml dims, ignoring trailing 1s (ggml treats `{n}` and `{n, 1}` alike).
fn check_dims(info: &TensorInfo, expected: &[usize]) -> Result<(), ModelError> {
    let trim = |d: &[usize]| {
        let mut v = d.to_vec();
        while v.len() > 1 && v.last() == Some(&1) {
            v.pop();
        }
        v
    };
    let found: Vec<usize> = info.dims.iter().map(|&d| d as usize).collect();
    if trim(&found) != trim(expected) {
        return Err(ModelError::TensorShape {
            name: info.name.clone(),
            expected: expected.to_vec(),
            found,
        });
    }
    Ok(())
}
