//! Which GGML type each tensor gets, following llama.cpp's converter (`conversion/base.py`):
//! only 2-D/3-D `.weight` matrices take the requested type; norms, 1-D tensors, non-`.weight`
//! tensors (`ssm_a`, `ssm_d`, biases), conv kernels and MoE routers stay F32; a matrix whose row
//! length is not a whole number of quantization blocks falls back to F16.

use std::fmt;
use std::str::FromStr;

use weft_kernels::GgmlType;

use super::ConvertError;

/// The `--type` of a conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OutType {
    /// Everything F32 (lossless).
    #[default]
    F32,
    F16,
    Q8_0,
    Q4_0,
}

impl OutType {
    pub const ALL: [OutType; 4] = [OutType::F32, OutType::F16, OutType::Q8_0, OutType::Q4_0];

    /// The GGML type matrices are stored in.
    pub fn matrix_type(self) -> GgmlType {
        match self {
            OutType::F32 => GgmlType::F32,
            OutType::F16 => GgmlType::F16,
            OutType::Q8_0 => GgmlType::Q8_0,
            OutType::Q4_0 => GgmlType::Q4_0,
        }
    }

    /// llama.cpp's `general.file_type` (`LLAMA_FTYPE_*`).
    pub fn file_type(self) -> u32 {
        match self {
            OutType::F32 => 0,
            OutType::F16 => 1,
            OutType::Q4_0 => 2,
            OutType::Q8_0 => 7,
        }
    }

    /// The spelling used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            OutType::F32 => "f32",
            OutType::F16 => "f16",
            OutType::Q8_0 => "q8_0",
            OutType::Q4_0 => "q4_0",
        }
    }
}

impl fmt::Display for OutType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown type {s:?} (expected one of f32, f16, q8_0, q4_0)"))
    }
}

/// Whether a tensor must stay F32 whatever the requested type.
fn stays_f32(name: &str, dims: &[usize]) -> bool {
    dims.len() < 2
        || !name.ends_with(".weight")
        || name.ends_with("_norm.weight")
        || name.ends_with(".ssm_conv1d.weight")
        || name.ends_with(".ffn_gate_inp.weight")
}

/// The type tensor `name` (GGML dims `dims`, ne0 first) is written as.
pub fn tensor_type(name: &str, dims: &[usize], out: OutType) -> GgmlType {
    if stays_f32(name, dims) {
        return GgmlType::F32;
    }
    let ty = out.matrix_type();
    if !dims[0].is_multiple_of(ty.block_size()) {
        return GgmlType::F16;
    }
    ty
}

/// Encodes f32 values as `ty` (F32, F16, Q8_0, Q4_0), bit-exact with ggml.
pub fn encode(name: &str, ty: GgmlType, data: &[f32]) -> Result<Vec<u8>, ConvertError> {
    weft_kernels::quant::quantize(ty, data).map_err(|e| ConvertError::Quantize {
        name: name.to_string(),
        ty,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norms_vectors_conv_and_router_stay_f32() {
        for out in OutType::ALL {
            assert_eq!(
                tensor_type("blk.0.attn_norm.weight", &[64], out),
                GgmlType::F32
            );
            assert_eq!(
                tensor_type("blk.0.ssm_norm.weight", &[64, 2], out),
                GgmlType::F32
            );
            assert_eq!(tensor_type("blk.0.ssm_a", &[16, 128], out), GgmlType::F32);
            assert_eq!(tensor_type("blk.0.ssm_d", &[1, 8], out), GgmlType::F32);
            assert_eq!(tensor_type("blk.0.ssm_dt.bias", &[128], out), GgmlType::F32);
            assert_eq!(
                tensor_type("blk.0.ssm_conv1d.weight", &[4, 128], out),
                GgmlType::F32
            );
            assert_eq!(
                tensor_type("blk.1.ffn_gate_inp.weight", &[64, 4], out),
                GgmlType::F32
            );
        }
    }

    #[test]
    fn matrices_take_the_type_or_fall_back_to_f16() {
        assert_eq!(
            tensor_type("blk.0.ssm_in.weight", &[64, 256], OutType::Q4_0),
            GgmlType::Q4_0
        );
        assert_eq!(
            tensor_type("token_embd.weight", &[64, 100], OutType::Q8_0),
            GgmlType::Q8_0
        );
        assert_eq!(
            tensor_type("blk.1.ffn_up_exps.weight", &[64, 96, 4], OutType::Q8_0),
            GgmlType::Q8_0
        );
        assert_eq!(
            tensor_type("blk.0.ssm_dt.weight", &[4, 128], OutType::Q8_0),
            GgmlType::F16
        );
        assert_eq!(
            tensor_type("blk.0.ssm_dt.weight", &[4, 128], OutType::F16),
            GgmlType::F16
        );
        assert_eq!(
            tensor_type("blk.0.ssm_dt.weight", &[4, 128], OutType::F32),
            GgmlType::F32
        );
    }

    #[test]
    fn file_types_and_parsing() {
        assert_eq!(
            OutType::ALL.map(OutType::file_type),
            [0, 1, 7, 2],
            "LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_Q4_0"
        );
        assert_eq!("Q8_0".parse::<OutType>().unwrap(), OutType::Q8_0);
        assert!("q5_k".parse::<OutType>().is_err());
    }
}
