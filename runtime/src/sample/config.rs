//! Sampling parameters and the errors a sample call can return.

use thiserror::Error;

/// Seed used by [`SamplerConfig::default`] and [`super::Sampler::new`]; fixed so runs reproduce.
pub const DEFAULT_SEED: u64 = 0;

/// Sampling parameters, named and defaulted as in llama.cpp's `common` sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature; `0.0` selects greedy argmax. Negative is an error.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens; `0` disables the filter.
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest prefix whose mass is ≥ `top_p`; `1.0` disables.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` × the top probability; `0.0` disables.
    pub min_p: f32,
    /// Penalty for tokens seen in the last `repeat_last_n` tokens; `1.0` disables.
    pub repetition_penalty: f32,
    /// How many of the most recent tokens the repetition penalty looks at; `0` disables.
    pub repeat_last_n: usize,
    /// Seed a session passes to [`super::Sampler::with_seed`] / [`super::Sampler::reseed`] when it
    /// starts. `sample` never reads it, so editing a config mid-stream does not restart the stream.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            seed: DEFAULT_SEED,
        }
    }
}

impl SamplerConfig {
    /// Deterministic argmax decoding: no filters, no penalty, no randomness.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 1,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            ..Self::default()
        }
    }

    /// Checks every field; `Sampler::sample` calls this first, so a bad config never samples.
    pub fn validate(&self) -> Result<(), SampleError> {
        let t = self.temperature;
        if !t.is_finite() || t < 0.0 {
            return Err(SampleError::InvalidTemperature(t));
        }
        let p = self.top_p;
        // NaN fails both comparisons, so it lands here too.
        if !(p > 0.0 && p <= 1.0) {
            return Err(SampleError::InvalidTopP(p));
        }
        let m = self.min_p;
        if !(0.0..=1.0).contains(&m) {
            return Err(SampleError::InvalidMinP(m));
        }
        let r = self.repetition_penalty;
        if !r.is_finite() || r <= 0.0 {
            return Err(SampleError::InvalidRepetitionPenalty(r));
        }
        Ok(())
    }
}

/// Why a token could not be sampled. Nothing here is a panic: every bad input maps to a variant.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum SampleError {
    #[error("temperature must be finite and >= 0 (0 = greedy), got {0}")]
    InvalidTemperature(f32),
    #[error("top_p must be in (0, 1], got {0}")]
    InvalidTopP(f32),
    #[error("min_p must be in [0, 1], got {0}")]
    InvalidMinP(f32),
    #[error("repetition_penalty must be finite and > 0 (1 = off), got {0}")]
    InvalidRepetitionPenalty(f32),
    #[error("logits have {got} entries but the sampler was built for a vocabulary of {expected}")]
    LogitsLength { expected: usize, got: usize },
    #[error("logit {index} is {value}; only finite values and -inf (masked) are accepted")]
    NonFiniteLogit { index: usize, value: f32 },
    #[error("every logit is -inf: no token can be sampled")]
    AllMasked,
    #[error("recent token {token} is outside the vocabulary of {vocab_size}")]
    TokenOutOfRange { token: u32, vocab_size: usize },
    #[error("the all-zero RNG state is invalid for xoshiro256** (it only ever yields zeros)")]
    ZeroRngState,
}
