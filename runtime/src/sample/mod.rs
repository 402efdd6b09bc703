//! Token sampler: repetition penalty, greedy / top-k / temperature / top-p / min-p, seeded draw.
//!
//! [`Sampler::new`] allocates every buffer it will ever need; [`Sampler::sample`] then performs no
//! heap allocation, so it can sit on the allocation-free decode path.
//!
//! # Order of operations
//! 1. Repetition penalty over the last `repeat_last_n` tokens of `recent` (each distinct token once:
//!    positive logits are divided by the penalty, negative ones multiplied, as llama.cpp and HF do).
//! 2. `temperature == 0` → greedy argmax (ties go to the lowest id); no RNG draw.
//! 3. top-k → softmax at `temperature` → top-p → min-p → renormalise → one RNG draw.
//!
//! Temperature is applied before top-p / min-p (the Hugging Face order); llama.cpp's default chain
//! applies it after them, so the two differ slightly when both are active.
//!
//! # Non-finite logits
//! `-inf` means "masked" (grammar or logit-bias masks use it): the token can never be drawn.
//! `NaN` and `+inf` are [`SampleError::NonFiniteLogit`]; if every logit is `-inf`, the result is
//! [`SampleError::AllMasked`].

mod config;
mod rng;

use std::cmp::Ordering;

pub use config::{DEFAULT_SEED, SampleError, SamplerConfig};
pub use rng::Rng;

/// One surviving token after the last successful [`Sampler::sample`] call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: u32,
    /// Logit after the repetition penalty, before temperature.
    pub logit: f32,
    /// Probability in the final (filtered, renormalised) distribution the token was drawn from.
    pub p: f32,
}

/// Reusable sampler for one vocabulary; holds its RNG so a session can snapshot it.
#[derive(Debug, Clone)]
pub struct Sampler {
    vocab_size: usize,
    cand: Vec<Candidate>,
    rng: Rng,
}

/// Descending logit, ties by ascending id: a total order, so every sort/selection is canonical.
fn by_logit_desc(a: &Candidate, b: &Candidate) -> Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

impl Sampler {
    /// A sampler for `vocab_size` logits, seeded with [`DEFAULT_SEED`].
    pub fn new(vocab_size: usize) -> Self {
        Self::with_seed(vocab_size, DEFAULT_SEED)
    }

    /// A sampler for `vocab_size` logits whose RNG starts from `seed`.
    ///
    /// Ids are `u32`, so a vocabulary larger than `u32::MAX + 1` is capped there (and longer logits
    /// are then rejected by `sample`).
    pub fn with_seed(vocab_size: usize, seed: u64) -> Self {
        let vocab_size = vocab_size.min(u32::MAX as usize + 1);
        Self {
            vocab_size,
            cand: Vec::with_capacity(vocab_size),
            rng: Rng::seed_from_u64(seed),
        }
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Restarts the random stream from `seed`.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::seed_from_u64(seed);
    }

    /// One step of the random stream as a uniform number in [0, 1): what a draw made elsewhere
    /// (the GPU's sampling kernel) consumes in place of [`Self::sample`]'s own draw.
    pub fn next_uniform(&mut self) -> f64 {
        self.rng.next_f64()
    }

    /// The RNG state; [`Self::set_rng_state`] with it reproduces the continuation bit-exactly.
    pub fn rng_state(&self) -> [u64; 4] {
        self.rng.state()
    }

    /// Restores a state from [`Self::rng_state`]. The all-zero state is rejected.
    pub fn set_rng_state(&mut self, state: [u64; 4]) -> Result<(), SampleError> {
        self.rng = Rng::from_state(state).ok_or(SampleError::ZeroRngState)?;
        Ok(())
    }

    /// The distribution the last successful `sample` drew from, most likely first when it was
    /// filtered by top-k or top-p, otherwise in id order. A greedy pick leaves one entry with p = 1.
    pub fn candidates(&self) -> &[Candidate] {
        &self.cand
    }

    /// Picks the next token. `recent` is the token history (oldest first); only its last
    /// `cfg.repeat_last_n` entries are read, and only when the repetition penalty is on.
    ///
    /// Allocates nothing. Greedy calls leave the RNG untouched; every other call advances it by
    /// exactly one draw.
    pub fn sample(
        &mut self,
        logits: &[f32],
        cfg: &SamplerConfig,
        recent: &[u32],
    ) -> Result<u32, SampleError> {
        cfg.validate()?;
        if logits.len() != self.vocab_size {
            return Err(SampleError::LogitsLength {
                expected: self.vocab_size,
                got: logits.len(),
            });
        }
        self.load(logits)?;
        self.apply_repetition_penalty(logits, cfg, recent)?;
        if cfg.temperature == 0.0 {
            return self.greedy();
        }

        self.cand.retain(|c| c.logit != f32::NEG_INFINITY);
        if self.cand.is_empty() {
            return Err(SampleError::AllMasked);
        }
        let reordered = self.top_k(cfg.top_k);
        let z = self.softmax(cfg.temperature);
        // min-p before sorting: it keeps a prefix of the sorted order just like top-p, so the two
        // cuts commute (top-p still measures mass against `z`, the pre-min-p total). Pruning first
        // keeps the sort small.
        if cfg.min_p > 0.0 {
            // The top token's unnormalised probability is exactly exp(0) = 1.
            let threshold = cfg.min_p;
            self.cand.retain(|c| c.p >= threshold);
        }
        if cfg.top_p < 1.0 {
            self.top_p(cfg.top_p, z);
        } else if reordered {
            // top-k's selection leaves an arbitrary order; sorting makes the draw canonical.
            self.cand.sort_unstable_by(by_logit_desc);
        }
        Ok(self.draw())
    }

    /// Copies logits into the candidate buffer (id == index), rejecting NaN and +inf.
    fn load(&mut self, logits: &[f32]) -> Result<(), SampleError> {
        self.cand.clear();
        for (i, &logit) in logits.iter().enumerate() {
            if logit.is_nan() || logit == f32::INFINITY {
                self.cand.clear();
                return Err(SampleError::NonFiniteLogit {
                    index: i,
                    value: logit,
                });
            }
            self.cand.push(Candidate {
                id: i as u32,
                logit,
                p: 0.0,
            });
        }
        Ok(())
    }

    /// Recomputes each penalised logit from the original, so a token repeated in the window is
    /// penalised once (llama.cpp / HF semantics) without a dedup set.
    fn apply_repetition_penalty(
        &mut self,
        logits: &[f32],
        cfg: &SamplerConfig,
        recent: &[u32],
    ) -> Result<(), SampleError> {
        let penalty = cfg.repetition_penalty;
        if penalty == 1.0 || cfg.repeat_last_n == 0 {
            return Ok(());
        }
        let window = &recent[recent.len().saturating_sub(cfg.repeat_last_n)..];
        for &token in window {
            let i = token as usize;
            let Some(&orig) = logits.get(i) else {
                self.cand.clear();
                return Err(SampleError::TokenOutOfRange {
                    token,
                    vocab_size: self.vocab_size,
                });
            };
            // A penalty below 1 boosts; cap at f32::MAX so the softmax never sees +inf.
            let penalised = if orig > 0.0 {
                (orig / penalty).min(f32::MAX)
            } else {
                orig * penalty
            };
            self.cand[i].logit = penalised;
        }
        Ok(())
    }

    fn greedy(&mut self) -> Result<u32, SampleError> {
        let mut best: Option<Candidate> = None;
        for c in &self.cand {
            // Strict `>` over ascending ids keeps the lowest id on ties.
            if c.logit != f32::NEG_INFINITY && best.is_none_or(|b| c.logit > b.logit) {
                best = Some(*c);
            }
        }
        self.cand.clear();
        let best = best.ok_or(SampleError::AllMasked)?;
        self.cand.push(Candidate { p: 1.0, ..best });
        Ok(best.id)
    }

    /// Keeps the `k` highest logits (in no particular order); returns whether it reordered.
    fn top_k(&mut self, k: usize) -> bool {
        if k == 0 || k >= self.cand.len() {
            return false;
        }
        self.cand.select_nth_unstable_by(k - 1, by_logit_desc);
        self.cand.truncate(k);
        true
    }

    /// Sets each `p` to exp((logit - max) / t) and returns their sum.
    fn softmax(&mut self, t: f32) -> f64 {
        let max = self
            .cand
            .iter()
            .fold(f32::NEG_INFINITY, |m, c| m.max(c.logit));
        let mut z = 0.0f64;
        for c in &mut self.cand {
            // Divide rather than multiply by 1/t: a subnormal t would make 1/t infinite and
            // 0 * inf = NaN for the top token.
            c.p = ((c.logit - max) / t).exp();
            z += f64::from(c.p);
        }
        z
    }

    /// Keeps the smallest sorted prefix whose mass reaches `top_p` of `z` (at least one token),
    /// leaving it sorted most likely first.
    ///
    /// Sorting a whole 150k vocabulary per token costs milliseconds, while the nucleus of a real
    /// distribution is usually tiny: select and sort the top `m` only, growing `m` until the
    /// prefix holds enough mass.
    fn top_p(&mut self, top_p: f32, z: f64) {
        let target = f64::from(top_p) * z;
        let n = self.cand.len();
        let mut m = n.min(64);
        loop {
            if m < n {
                self.cand.select_nth_unstable_by(m - 1, by_logit_desc);
            }
            self.cand[..m].sort_unstable_by(by_logit_desc);
            let mut cum = 0.0f64;
            for (i, c) in self.cand[..m].iter().enumerate() {
                cum += f64::from(c.p);
                if cum >= target {
                    self.cand.truncate(i + 1);
                    return;
                }
            }
            if m == n {
                // Rounding kept the total just under the target: keep everything.
                return;
            }
            m = n.min(m.saturating_mul(8));
        }
    }

    /// Renormalises the survivors and draws one of them with a single RNG step.
    fn draw(&mut self) -> u32 {
        let total: f64 = self.cand.iter().map(|c| f64::from(c.p)).sum();
        let u = self.rng.next_f64() * total;
        let mut acc = 0.0f64;
        // Rounding can leave `u` a hair above the last partial sum: fall back to the last token
        // with nonzero mass (the top token always has p = 1 before normalising, so one exists).
        let mut picked = None;
        let mut last_nonzero = 0;
        for c in &self.cand {
            acc += f64::from(c.p);
            if c.p > 0.0 {
                last_nonzero = c.id;
            }
            if u < acc {
                picked = Some(c.id);
                break;
            }
        }
        for c in &mut self.cand {
            c.p = (f64::from(c.p) / total) as f32;
        }
        picked.unwrap_or(last_nonzero)
    }
}
