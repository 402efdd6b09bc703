//! `weft convert`: a Hugging Face folder (config.json + safetensors) → one GGUF file.
//!
//! Mamba-1, Mamba-2, Jamba and Llama are written with llama.cpp's keys, tensor names and
//! transforms; Zamba2 with the weft-defined names of docs/gguf.md. Tensors are read, transformed
//! and encoded one at a time while the file is written, so memory stays near the largest tensor.

mod common;
mod config;
mod error;
mod hf;
mod jamba;
mod llama;
mod mamba;
mod mamba2;
mod plan;
mod policy;
mod ssm;
mod tokenizer;
mod zamba2;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::gguf::GgufWriter;

pub use config::HfConfig;
pub use error::{ConvertError, SUPPORTED_ARCHITECTURES};
pub use hf::{HfModel, InitFn, Synthetic};
pub use policy::{OutType, tensor_type};

use plan::Plan;

/// Progress callback: `(tensors done, tensors total, name of the tensor just written)`.
pub type ProgressFn = Arc<dyn Fn(usize, usize, &str) + Send + Sync>;

/// How to convert.
#[derive(Clone, Default)]
pub struct ConvertOptions {
    /// Storage type of the weight matrices (`--type`).
    pub out_type: OutType,
    /// `general.name`; defaults to the folder name.
    pub name: Option<String>,
    /// Called after each tensor is encoded.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for ConvertOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConvertOptions")
            .field("out_type", &self.out_type)
            .field("name", &self.name)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl ConvertOptions {
    /// Options for `out_type` with no name override and no progress callback.
    pub fn new(out_type: OutType) -> Self {
        ConvertOptions {
            out_type,
            ..Default::default()
        }
    }
}

type Fill = fn(&mut Plan) -> Result<(), ConvertError>;

/// The GGUF architecture and plan builder for a Hugging Face `architectures[0]`.
fn dispatch(hf_arch: &str) -> Result<(&'static str, Fill), ConvertError> {
    Ok(match hf_arch {
        "MambaForCausalLM" => (mamba::ARCH, mamba::fill),
        "Mamba2ForCausalLM" => (mamba2::ARCH, mamba2::fill),
        // weft's sensor models (docs/gguf.md, "Frame models").
        "Mamba2ForFrameRegression" => (mamba2::ARCH, mamba2::fill_frames),
        "JambaForCausalLM" => (jamba::ARCH, jamba::fill),
        "Zamba2ForCausalLM" => (zamba2::ARCH, zamba2::fill),
        "LlamaForCausalLM" => (llama::ARCH, llama::fill),
        other => return Err(ConvertError::UnsupportedArchitecture(other.to_string())),
    })
}

/// The GGUF architecture name `dir` converts to (reads only config.json).
pub fn target_architecture(dir: &Path) -> Result<&'static str, ConvertError> {
    let config = HfConfig::new(hf::read_json(&dir.join("config.json"))?)?;
    Ok(dispatch(&config.architecture()?)?.0)
}

/// Reads `dir`'s config and tensor index, checks every tensor's shape, and describes the file.
fn build_plan(dir: &Path, opts: &ConvertOptions) -> Result<Plan, ConvertError> {
    plan_from(Arc::new(HfModel::open(dir)?), dir, opts)
}

/// [`build_plan`] over an opened (or synthetic) checkpoint.
fn plan_from(hf: Arc<HfModel>, dir: &Path, opts: &ConvertOptions) -> Result<Plan, ConvertError> {
    let (arch, fill) = dispatch(&hf.config().architecture()?)?;
    let mut plan = Plan::new(arch, hf, opts.out_type);
    let name = opts.name.clone().unwrap_or_else(|| {
        dir.canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".to_string())
    });
    common::general_keys(&mut plan, &name);
    fill(&mut plan)?;
    common::file_type_keys(&mut plan);
    let vocab = plan
        .tensors
        .iter()
        .find(|t| t.name == "token_embd.weight")
        .map_or(0, |t| t.dims[1]);
    for (key, value) in tokenizer::tokenizer_kvs(dir, plan.hf().config(), vocab)? {
        plan.kv(key, value);
    }
    for unused in plan.unused_sources() {
        log::warn!(
            "{}: tensor {unused:?} is not used by the {arch} mapping",
            dir.display()
        );
    }
    Ok(plan)
}

/// What a finished conversion wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvertSummary {
    /// GGUF `general.architecture`.
    pub architecture: &'static str,
    pub tensors: usize,
    /// File size in bytes.
    pub bytes: u64,
    /// Checkpoint tensors the mapping did not use (e.g. `lm_head.weight` of a tied model, which
    /// transformers ignores too), sorted.
    pub unused_tensors: Vec<String>,
}

/// Converts the Hugging Face folder `dir` into a [`GgufWriter`] whose tensors are read, transformed
/// and encoded lazily when it is written. Every checkpoint tensor's shape has been checked by the
/// time this returns; errors while writing are reported as the [`ConvertError`] that caused them
/// by [`convert_to_path`] / [`convert_to_bytes`] (through [`ConvertError::from_gguf`]).
pub fn convert(dir: &Path, opts: &ConvertOptions) -> Result<GgufWriter<'static>, ConvertError> {
    Ok(to_writer(build_plan(dir, opts)?, opts.progress.clone())?.0)
}

/// [`convert`] for a checkpoint already opened, such as a [`HfModel::synthetic`] one (whose
/// folder holds at most the tokenizer files).
pub fn convert_model(
    hf: HfModel,
    opts: &ConvertOptions,
) -> Result<GgufWriter<'static>, ConvertError> {
    let dir = hf.dir().to_path_buf();
    let plan = plan_from(Arc::new(hf), &dir, opts)?;
    Ok(to_writer(plan, opts.progress.clone())?.0)
}

/// Converts `dir` and writes the GGUF file to `out` (through a temporary file renamed into place).
pub fn convert_to_path(
    dir: &Path,
    out: &Path,
    opts: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let plan = build_plan(dir, opts)?;
    let unused_tensors = plan.unused_sources();
    let (writer, architecture) = to_writer(plan, opts.progress.clone())?;
    let tensors = writer.n_tensors();
    let bytes = writer.write_to_path(out).map_err(ConvertError::from_gguf)?;
    Ok(ConvertSummary {
        architecture,
        tensors,
        bytes,
        unused_tensors,
    })
}

/// Converts `dir` into an in-memory GGUF file (used by `weft parity` and tests).
pub fn convert_to_bytes(dir: &Path, opts: &ConvertOptions) -> Result<Vec<u8>, ConvertError> {
    let (writer, _) = to_writer(build_plan(dir, opts)?, opts.progress.clone())?;
    writer.into_bytes().map_err(ConvertError::from_gguf)
}

/// Hands the plan to a GGUF writer: metadata now, tensors as lazy producers that load, encode and
/// report progress.
fn to_writer(
    plan: Plan,
    progress: Option<ProgressFn>,
) -> Result<(GgufWriter<'static>, &'static str), ConvertError> {
    let mut w = GgufWriter::new();
    for (key, value) in plan.kvs {
        w.add_kv(&key, value)?;
    }
    let total = plan.tensors.len();
    let done = Arc::new(AtomicUsize::new(0));
    for t in plan.tensors {
        let dims: Vec<u64> = t.dims.iter().map(|&d| d as u64).collect();
        let (name, ty, parts) = (t.name, t.ty, t.parts);
        let rows: usize = t.dims[1..].iter().product();
        let size = ty.row_bytes(t.dims[0]).unwrap_or(0) * rows;
        let (done, progress) = (Arc::clone(&done), progress.clone());
        let tensor = name.clone();
        w.add_tensor_with(
            &tensor,
            &dims,
            ty,
            move || -> Result<Vec<u8>, ConvertError> {
                let mut bytes = Vec::with_capacity(size);
                for part in parts {
                    bytes.extend(policy::encode(&name, ty, &part()?)?);
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(p) = &progress {
                    p(n, total, &name);
                }
                Ok(bytes)
            },
        )?;
    }
    Ok((w, plan.arch))
}
