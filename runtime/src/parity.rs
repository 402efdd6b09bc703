//! Parity against Hugging Face reference logits (`reference.safetensors` of a fixture folder).
//!
//! Metric per position t: ‖logits_t − ref_t‖₂ / ‖ref_t‖₂; a path's score is the max over t.
//! Two paths are checked: decode (token by token) and prefill (whole sequence in chunks, every
//! row's logits kept) for several chunk sizes.

use std::path::Path;
use std::sync::Arc;

use safetensors::{Dtype, SafeTensors};

use crate::backend::Backend;
use crate::convert::{ConvertOptions, OutType, convert_to_bytes};
use crate::error::{Error, SessionError};
use crate::gguf::Gguf;
use crate::model::Model;
use crate::session::{Input, SessionConfig};

/// Why a parity run could not be carried out (a mismatch is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reference file: {0}")]
    Reference(String),
    #[error(transparent)]
    Weft(#[from] Error),
    #[error("converting the fixture: {0}")]
    Convert(String),
}

impl From<SessionError> for ParityError {
    fn from(e: SessionError) -> Self {
        ParityError::Weft(e.into())
    }
}

/// Tokens and the logits transformers computed for them.
#[derive(Clone, Debug)]
pub struct Reference {
    pub tokens: Vec<u32>,
    /// `[T, vocab]`
    pub logits: Vec<f32>,
    pub vocab: usize,
}

impl Reference {
    /// Reads `reference.safetensors`: `tokens` int64 `[T]`, `logits` f32 `[T, V]`.
    pub fn load(path: &Path) -> Result<Reference, ParityError> {
        let bytes = std::fs::read(path).map_err(|source| ParityError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Reference::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Reference, ParityError> {
        let bad = |m: String| ParityError::Reference(m);
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let tokens = st
            .tensor("tokens")
            .map_err(|e| bad(format!("tokens: {e}")))?;
        let logits = st
            .tensor("logits")
            .map_err(|e| bad(format!("logits: {e}")))?;
        if tokens.dtype() != Dtype::I64 || logits.dtype() != Dtype::F32 {
            return Err(bad("expected int64 tokens and f32 logits".into()));
        }
        let (t, shape) = (tokens.shape().first().copied().unwrap_or(0), logits.shape());
        if shape.len() != 2 || shape[0] != t || t == 0 {
            return Err(bad(format!(
                "logits shape {shape:?} does not match {t} tokens"
            )));
        }
        let tokens = tokens
            .data()
            .chunks_exact(8)
            .map(|b| {
                let id = i64::from_le_bytes(b.try_into().expect("8 bytes"));
                u32::try_from(id).map_err(|_| bad(format!("token id {id} out of range")))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        let logits = logits
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        Ok(Reference {
            tokens,
            logits,
            vocab: shape[1],
        })
    }

    pub fn row(&self, t: usize) -> &[f32] {
        &self.logits[t * self.vocab..(t + 1) * self.vocab]
    }
}

/// ‖a − b‖₂ / ‖b‖₂ in f64.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += (x as f64 - y as f64).powi(2);
        den += (y as f64).powi(2);
    }
    (num / den.max(f64::MIN_POSITIVE)).sqrt()
}

/// Max over positions of [`rel_l2`] between `[T, V]` logits and the reference.
pub fn max_rel(logits: &[f32], reference: &Reference) -> f64 {
    (0..reference.tokens.len())
        .map(|t| {
            rel_l2(
                &logits[t * reference.vocab..(t + 1) * reference.vocab],
                reference.row(t),
            )
        })
        .fold(0.0, f64::max)
}

/// The reference's tokens fed one by one; returns every position's logits `[T, V]`.
pub fn decode_logits(model: &Arc<Model>, tokens: &[u32]) -> Result<Vec<f32>, ParityError> {
    decode_logits_on(model, tokens, Backend::Cpu)
}

/// [`decode_logits`] on a chosen backend.
pub fn decode_logits_on(
    model: &Arc<Model>,
    tokens: &[u32],
    backend: Backend,
) -> Result<Vec<f32>, ParityError> {
    let config = SessionConfig {
        backend,
        ..SessionConfig::default()
    };
    let mut session = model.session(config)?;
    let mut all = Vec::with_capacity(tokens.len() * model.config().n_vocab);
    for &t in tokens {
        all.extend_from_slice(session.step(Input::Token(t))?);
    }
    Ok(all)
}

/// The tokens prefilled in chunks of `chunk`, keeping every position's logits `[T, V]`.
pub fn prefill_logits(
    model: &Arc<Model>,
    tokens: &[u32],
    chunk: usize,
) -> Result<Vec<f32>, ParityError> {
    prefill_logits_on(model, tokens, chunk, Backend::Cpu)
}

/// [`prefill_logits`] on a chosen backend.
pub fn prefill_logits_on(
    model: &Arc<Model>,
    tokens: &[u32],
    chunk: usize,
    backend: Backend,
) -> Result<Vec<f32>, ParityError> {
    let config = SessionConfig {
        backend,
        prefill_chunk: chunk,
        logits_all: true,
        ..SessionConfig::default()
    };
    let mut session = model.session(config)?;
    let mut all = vec![0.0; tokens.len() * model.config().n_vocab];
    session.prefill_all(tokens, &mut all)?;
    Ok(all)
}

/// Scores of one model against one reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    pub decode_max_rel: f64,
    /// Max over the chunk sizes tried.
    pub prefill_max_rel: f64,
}

/// Prefill chunk sizes tried: one token, an odd size that splits the sequence unevenly, all.
pub fn chunk_sizes(t: usize) -> [usize; 3] {
    [1, 7, t.max(1)]
}

/// Decode and prefill (every size of [`chunk_sizes`]) of `model` against `reference`.
pub fn score(model: &Arc<Model>, reference: &Reference) -> Result<Scores, ParityError> {
    score_on(model, reference, Backend::Cpu)
}

/// [`score`] on a chosen backend.
pub fn score_on(
    model: &Arc<Model>,
    reference: &Reference,
    backend: Backend,
) -> Result<Scores, ParityError> {
    if model.config().n_vocab != reference.vocab {
        return Err(ParityError::Reference(format!(
            "reference has {} logits per token, the model {}",
            reference.vocab,
            model.config().n_vocab
        )));
    }
    let decode_max_rel = max_rel(
        &decode_logits_on(model, &reference.tokens, backend)?,
        reference,
    );
    let mut prefill_max_rel = 0.0f64;
    for chunk in chunk_sizes(reference.tokens.len()) {
        let logits = prefill_logits_on(model, &reference.tokens, chunk, backend)?;
        prefill_max_rel = prefill_max_rel.max(max_rel(&logits, reference));
    }
    Ok(Scores {
        decode_max_rel,
        prefill_max_rel,
    })
}

/// Error budget of each storage type (max relative L2 over positions and paths).
///
/// f32 is the correctness bar. The quantized budgets are the worst case measured over all
/// reference fixtures with a margin (f16 4.1e-2 on jamba_b, q8_0 0.57 on zamba2_a, q4_0 1.37 on
/// zamba2_b). The fixtures are tiny random models built so that every layer changes the logits
/// strongly, which also makes them amplify weight rounding; real checkpoints are far less
/// sensitive. That the quantized path itself is exact is a separate test (a quantized model
/// computes bit for bit what its dequantized-to-f32 twin computes).
pub fn tolerance(ty: OutType) -> f64 {
    tolerance_on(ty, Backend::Cpu)
}

/// [`tolerance`] of a backend: the GPU sums in a different order (subgroup and workgroup
/// trees), so its f32 bar is 1e-3; quantized budgets are the same (their error is the
/// quantization's, not the backend's).
pub fn tolerance_on(ty: OutType, backend: Backend) -> f64 {
    match ty {
        OutType::F32 if backend != Backend::Cpu => 1e-3,
        OutType::F32 => 1e-4,
        OutType::F16 => 8e-2,
        OutType::Q8_0 => 1.0,
        OutType::Q4_0 => 2.0,
    }
}

/// One fixture checked in one storage type.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ParityReport {
    pub case: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// `cpu` or `gpu`.
    pub backend: String,
    pub decode_max_rel: f64,
    pub prefill_max_rel: f64,
    pub tolerance: f64,
    pub pass: bool,
}

/// Converts the Hugging Face fixture folder `dir` in memory to `ty`, loads it and scores both
/// paths against `dir/reference.safetensors`.
pub fn check_fixture(dir: &Path, ty: OutType) -> Result<ParityReport, ParityError> {
    check_fixture_on(dir, ty, Backend::Cpu)
}

/// [`check_fixture`] on a chosen backend (`Gpu` fails if no usable GPU is found).
pub fn check_fixture_on(
    dir: &Path,
    ty: OutType,
    backend: Backend,
) -> Result<ParityReport, ParityError> {
    let bytes = convert_to_bytes(dir, &ConvertOptions::new(ty))
        .map_err(|e| ParityError::Convert(e.to_string()))?;
    let gguf = Gguf::from_bytes(bytes).map_err(Error::from)?;
    let model = Arc::new(Model::from_gguf(gguf).map_err(Error::from)?);
    let reference = Reference::load(&dir.join("reference.safetensors"))?;
    let scores = score_on(&model, &reference, backend)?;
    let tolerance = tolerance_on(ty, backend);
    let case = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(ParityReport {
        case,
        ty: ty.to_string(),
        backend: match backend {
            Backend::Cpu => "cpu",
            Backend::Gpu => "gpu",
            Backend::Auto => "auto",
        }
        .into(),
        decode_max_rel: scores.decode_max_rel,
        prefill_max_rel: scores.prefill_max_rel,
        tolerance,
        pass: scores.decode_max_rel <= tolerance && scores.prefill_max_rel <= tolerance,
    })
}
