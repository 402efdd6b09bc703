//! Tensor descriptors and the shape/layout rules both the reader and the writer enforce.

use std::fmt;

use weft_kernels::GgmlType;

use super::error::GgufError;

/// ggml's GGML_MAX_DIMS.
pub const MAX_DIMS: usize = 4;

/// One tensor of a GGUF file. Only a validated file hands these out (`non_exhaustive` keeps other
/// crates from building one), so the helpers below cannot overflow.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TensorInfo {
    pub name: String,
    /// ggml `ne` order: `dims[0]` is the row length (the fastest-varying dimension).
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Byte offset relative to the start of the data section.
    pub offset: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    pub(crate) fn new(
        name: String,
        dims: Vec<u64>,
        ty: GgmlType,
        offset: u64,
    ) -> Result<Self, GgufError> {
        let n_bytes = tensor_bytes(&name, &dims, ty)?;
        Ok(TensorInfo {
            name,
            dims,
            ty,
            offset,
            n_bytes,
        })
    }

    pub fn n_elements(&self) -> usize {
        self.dims.iter().product::<u64>() as usize
    }

    /// Number of rows: the product of `dims[1..]`.
    pub fn rows(&self) -> usize {
        self.dims.iter().skip(1).product::<u64>() as usize
    }

    /// Elements per row: `dims[0]`.
    pub fn row_len(&self) -> usize {
        self.dims.first().copied().unwrap_or(1) as usize
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.n_bytes as usize / self.rows().max(1)
    }
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:?} @{} ({} bytes)",
            self.name, self.ty, self.dims, self.offset, self.n_bytes
        )
    }
}

/// Checks a tensor's dimension count, dimensions and type against each other and returns its size
/// in bytes. Element and byte counts must also fit in `usize` so the helpers above are exact.
pub(crate) fn tensor_bytes(name: &str, dims: &[u64], ty: GgmlType) -> Result<u64, GgufError> {
    if dims.is_empty() || dims.len() > MAX_DIMS {
        return Err(GgufError::BadDimCount {
            tensor: name.to_string(),
            n_dims: dims.len() as u32,
        });
    }
    for (index, &d) in dims.iter().enumerate() {
        // Dimensions are i64 on disk; a zero or "negative" one is never valid.
        if d == 0 || d > i64::MAX as u64 {
            return Err(GgufError::BadDim {
                tensor: name.to_string(),
                index,
                value: d as i64,
            });
        }
    }
    let overflow = || GgufError::DimsOverflow {
        tensor: name.to_string(),
        dims: dims.to_vec(),
        ty,
    };
    let n_elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64 && usize::try_from(n).is_ok())
        .ok_or_else(overflow)?;
    let row_len = dims[0];
    if !row_len.is_multiple_of(ty.block_size() as u64) {
        return Err(GgufError::RowNotBlockMultiple {
            tensor: name.to_string(),
            ty,
            row_len,
            block_size: ty.block_size(),
        });
    }
    let blocks = n_elements / ty.block_size() as u64;
    blocks
        .checked_mul(ty.block_bytes() as u64)
        .filter(|&n| n <= i64::MAX as u64 && usize::try_from(n).is_ok())
        .ok_or_else(overflow)
}

/// `x` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
pub(crate) fn pad(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// Checks that every tensor is aligned, inside a data section of `data_len` bytes and disjoint
/// from the others. Any such layout is accepted, not only llama.cpp's running padded sum.
pub(crate) fn check_layout(
    tensors: &[TensorInfo],
    alignment: u64,
    data_len: u64,
) -> Result<(), GgufError> {
    for t in tensors {
        if !t.offset.is_multiple_of(alignment) {
            return Err(GgufError::MisalignedOffset {
                tensor: t.name.clone(),
                offset: t.offset,
                alignment,
            });
        }
        if t.offset
            .checked_add(t.n_bytes)
            .is_none_or(|end| end > data_len)
        {
            return Err(GgufError::OffsetOutOfRange {
                tensor: t.name.clone(),
                offset: t.offset,
                n_bytes: t.n_bytes,
                data_len,
            });
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| (t.offset, t.n_bytes));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        // In range, so this cannot overflow.
        let a_end = a.offset + a.n_bytes;
        if b.offset < a_end {
            return Err(GgufError::Overlap {
                tensor: b.name.clone(),
                offset: b.offset,
                other: a.name.clone(),
                other_end: a_end,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_blocks() {
        assert_eq!(
            tensor_bytes("t", &[64, 3], GgmlType::Q8_0).unwrap(),
            2 * 34 * 3
        );
        assert_eq!(tensor_bytes("t", &[5], GgmlType::F32).unwrap(), 20);
        assert_eq!(
            tensor_bytes("t", &[2, 3, 4, 5], GgmlType::F16).unwrap(),
            240
        );
        assert!(matches!(
            tensor_bytes("t", &[48], GgmlType::Q4_0),
            Err(GgufError::RowNotBlockMultiple {
                row_len: 48,
                block_size: 32,
                ..
            })
        ));
        assert!(matches!(
            tensor_bytes("t", &[1 << 32, 1 << 32], GgmlType::F32),
            Err(GgufError::DimsOverflow { .. })
        ));
        assert!(matches!(
            tensor_bytes("t", &[1 << 62], GgmlType::F32),
            Err(GgufError::DimsOverflow { .. })
        ));
    }

    #[test]
    fn pad_rounds_up() {
        assert_eq!(pad(0, 32), Some(0));
        assert_eq!(pad(1, 32), Some(32));
        assert_eq!(pad(64, 32), Some(64));
        assert_eq!(pad(u64::MAX - 3, 32), None);
    }

    #[test]
    fn helpers_split_rows() {
        let t = TensorInfo::new("w".into(), vec![64, 3, 2], GgmlType::Q8_0, 0).unwrap();
        assert_eq!((t.row_len(), t.rows(), t.n_elements()), (64, 6, 384));
        assert_eq!(t.row_bytes(), 68);
        assert_eq!(t.to_string(), "w Q8_0 [64, 3, 2] @0 (408 bytes)");
    }
}
