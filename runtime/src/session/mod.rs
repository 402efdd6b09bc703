//! [`Session`]: one stream over a shared [`Model`]. Everything it needs is allocated in
//! [`Session::new`]; stepping, prefilling, sampling and saving/restoring state never allocate.

mod snapshot;

use std::sync::Arc;

use crate::backend::Backend;
use crate::backend::cpu::{CpuBackend, Run};
use crate::backend::gpu::{GpuBackend, GpuDraw};
use crate::error::SessionError;
use crate::model::Model;
use crate::program::Program;
use crate::sample::{DEFAULT_SEED, Sampler, SamplerConfig};
use crate::state::{History, KvRing, KvType, State};

/// What a step feeds the model.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A token id, looked up in the embedding table.
    Token(u32),
    /// A frame fed instead of a token: `frame_dim` floats for a frame model (projected by its
    /// `frame_in`), otherwise an embedding-sized vector (soft prompts).
    Frame(&'a [f32]),
}

/// How a session is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    /// Recent positions each KV ring keeps (besides the sinks); capped at the model's context
    /// length when it states one.
    pub kv_window: usize,
    /// First positions every KV ring keeps forever (StreamingLLM attention sinks).
    pub kv_sinks: usize,
    /// How the KV rings store keys and values (f16: half the memory and the attention reads;
    /// CPU backend only).
    pub kv_type: KvType,
    /// Tokens per prefill run.
    pub prefill_chunk: usize,
    pub backend: Backend,
    /// Threads of the CPU backend, the calling thread included (0: the physical cores). They
    /// are started here and persist for the session; results do not depend on the count.
    pub threads: usize,
    /// Multiply Q8_0/Q4_0 weights with int8-quantized activations (llama.cpp's scheme): faster,
    /// at the cost of the activations' int8 rounding (about 0.5% relative per matmul). Off:
    /// f32 activations, exactly the stored weights' values.
    pub int8_activations: bool,
    /// Keep the logits of every prefilled token ([`Session::prefill_all`]), not only the last.
    pub logits_all: bool,
    /// Tokens of history kept for the repetition penalty.
    pub history: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            kv_window: 4096,
            kv_sinks: 4,
            kv_type: KvType::F32,
            prefill_chunk: 64,
            backend: Backend::Cpu,
            threads: 1,
            int8_activations: false,
            logits_all: false,
            history: 256,
        }
    }
}

/// One stream: state, programs, scratch and the last logits.
pub struct Session {
    model: Arc<Model>,
    config: SessionConfig,
    decode: Program,
    prefill: Program,
    backend: CpuBackend,
    /// Set when the session runs on the GPU (`SessionConfig::backend`).
    gpu: Option<Box<GpuBackend>>,
    arena: Vec<f32>,
    state: State,
    logits: Vec<f32>,
    has_logits: bool,
    position: usize,
    history: History,
    sampler: Sampler,
}

impl Model {
    /// A new session over this model (see [`Session::new`]).
    pub fn session(self: &Arc<Self>, config: SessionConfig) -> Result<Session, SessionError> {
        Session::new(Arc::clone(self), config)
    }
}

impl Session {
    /// Compiles the decode and prefill Programs and allocates all state and scratch.
    pub fn new(model: Arc<Model>, mut config: SessionConfig) -> Result<Session, SessionError> {
        if let Some(ctx) = model.config().n_ctx {
            config.kv_window = config.kv_window.min(ctx);
        }
        if config.kv_window == 0 || config.prefill_chunk == 0 {
            return Err(SessionError::InvalidConfig(format!(
                "kv_window ({}) and prefill_chunk ({}) must be at least 1",
                config.kv_window, config.prefill_chunk
            )));
        }
        let decode = model.compile(1, false);
        let prefill = model.compile(config.prefill_chunk, config.logits_all);
        assert_eq!(
            decode.state, prefill.state,
            "both Programs lay out the same state"
        );
        let state = State::new(
            &decode.state,
            config.kv_sinks,
            config.kv_window,
            config.kv_type,
        );
        let gpu = crate::backend::gpu::select(&model, &config, &decode, &prefill)?;
        // A GPU session runs no CPU op: no worker threads, no CPU arena.
        let on_gpu = gpu.is_some();
        let backend = CpuBackend::new(
            &[&decode, &prefill],
            &state,
            if on_gpu { 1 } else { config.threads },
            config.int8_activations,
        );
        let arena_len = if on_gpu {
            0
        } else {
            decode.arena_len.max(prefill.arena_len)
        };
        let arena = crate::mem::zeroed_huge(arena_len);
        let n_out = model.config().output_width();
        Ok(Session {
            sampler: Sampler::new(n_out),
            history: History::new(config.history),
            logits: vec![0.0; n_out],
            has_logits: false,
            position: 0,
            model,
            config,
            decode,
            prefill,
            backend,
            gpu,
            arena,
            state,
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Threads the CPU backend runs on, the calling thread included.
    pub fn threads(&self) -> usize {
        self.backend.threads()
    }

    /// Tokens (or frames) consumed so far: the absolute position of the next one.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Logits after the last step or prefill (a regression model's predicted next frame).
    pub fn logits(&self) -> Option<&[f32]> {
        self.has_logits.then_some(&self.logits[..])
    }

    /// The KV ring of attention call site `i` (in layer order).
    pub fn kv_ring(&self, i: usize) -> Option<&KvRing> {
        self.state.kv.get(i)
    }

    /// The GPU backend this session runs on, if any (measurement and diagnostics).
    pub fn gpu(&mut self) -> Option<&mut GpuBackend> {
        self.gpu.as_deref_mut()
    }

    /// Which backend runs this session's steps (`Auto` resolved).
    pub fn backend(&self) -> Backend {
        if self.gpu.is_some() {
            Backend::Gpu
        } else {
            Backend::Cpu
        }
    }

    /// Advances one position and picks the most likely next token (ties: lowest id). On the
    /// GPU the argmax runs there and only the id is read back: [`Session::logits`] is then
    /// `None` until the next [`Session::step`] or prefill. Does not touch the sampler's RNG.
    pub fn step_greedy(&mut self, token: u32) -> Result<u32, SessionError> {
        self.check_token(token)?;
        self.history.push(token);
        if let Some(g) = self.gpu.as_mut() {
            g.set_tokens(&[token]);
            let id = g.decode_greedy(self.position);
            self.has_logits = false;
            self.position += 1;
            return Ok(id);
        }
        self.backend
            .embed(&self.model, &[token], self.decode.input, &mut self.arena);
        self.run_decode();
        Ok(argmax(&self.logits))
    }

    /// Feeds `token` and picks the next one with `config`: [`Session::step`] then
    /// [`Session::sample`], the same RNG draw. On the GPU a chain the sampling kernels cover
    /// (greedy, or top-k 1..=64; with or without the repetition penalty) runs there and only the
    /// id is read back ([`Session::logits`] is then `None`; the draw is in f32, so an id can
    /// differ from the CPU's only where the uniform number falls within rounding of a boundary);
    /// any other chain reads the logits back and samples on the CPU.
    pub fn step_sample(&mut self, token: u32, config: &SamplerConfig) -> Result<u32, SessionError> {
        let on_gpu_kernel =
            self.gpu.is_some() && (config.temperature == 0.0 || (1..=64).contains(&config.top_k));
        if !on_gpu_kernel {
            self.step(Input::Token(token))?;
            return self.sample(config);
        }
        config.validate().map_err(SessionError::Sample)?;
        let penalty_on = config.repetition_penalty != 1.0 && config.repeat_last_n > 0;
        if config.temperature == 0.0 && !penalty_on {
            return self.step_greedy(token);
        }
        self.check_token(token)?;
        // Greedy takes no draw (as on the CPU).
        let uniform = match config.temperature {
            0.0 => 0.0,
            _ => self.sampler.next_uniform() as f32,
        };
        self.history.push(token);
        let draw = GpuDraw {
            top_k: config.top_k as u32,
            temperature: config.temperature,
            top_p: config.top_p,
            min_p: config.min_p,
            uniform,
            penalty: config.repetition_penalty,
            recent: match penalty_on {
                true => self.history.recent(config.repeat_last_n),
                false => &[],
            },
        };
        let g = self.gpu.as_mut().expect("checked above");
        g.set_tokens(&[token]);
        let id = g.decode_sample(self.position, &draw);
        self.has_logits = false;
        self.position += 1;
        id.ok_or(SessionError::Sample(crate::sample::SampleError::AllMasked))
    }

    /// Advances one position; returns the logits of the next token (a regression model: its
    /// prediction of the next frame).
    pub fn step(&mut self, input: Input) -> Result<&[f32], SessionError> {
        let input_buf = self.decode.input;
        match input {
            Input::Token(t) => {
                self.check_token(t)?;
                match self.gpu.as_mut() {
                    Some(g) => g.set_tokens(&[t]),
                    None => self
                        .backend
                        .embed(&self.model, &[t], input_buf, &mut self.arena),
                }
                self.history.push(t);
            }
            Input::Frame(frame) => {
                let width = self.model.config().input_width();
                if frame.len() != width {
                    return Err(SessionError::FrameLength {
                        expected: width,
                        found: frame.len(),
                    });
                }
                match self.gpu.as_mut() {
                    Some(g) => g.set_frame(input_buf, frame),
                    None => self.arena[input_buf.row(0, 1)].copy_from_slice(frame),
                }
            }
        }
        self.run_decode();
        Ok(&self.logits)
    }

    /// Feeds `tokens` in chunks of `prefill_chunk`; returns the logits after the last one.
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<&[f32], SessionError> {
        self.check_prompt(tokens)?;
        for chunk in tokens.chunks(self.config.prefill_chunk) {
            self.run_prefill(chunk, None);
        }
        Ok(&self.logits)
    }

    /// [`Session::prefill`] that also writes every token's logits into `out` (`[len, n_vocab]`);
    /// needs `SessionConfig::logits_all`.
    pub fn prefill_all(&mut self, tokens: &[u32], out: &mut [f32]) -> Result<(), SessionError> {
        if !self.config.logits_all {
            return Err(SessionError::LogitsAllDisabled);
        }
        self.check_prompt(tokens)?;
        let v = self.model.config().output_width();
        if out.len() != tokens.len() * v {
            return Err(SessionError::OutputSize {
                expected: tokens.len() * v,
                found: out.len(),
            });
        }
        let chunk = self.config.prefill_chunk;
        for (chunk, out) in tokens.chunks(chunk).zip(out.chunks_mut(chunk * v)) {
            self.run_prefill(chunk, Some(out));
        }
        Ok(())
    }

    /// Picks the next token from the last logits and the token history.
    pub fn sample(&mut self, config: &SamplerConfig) -> Result<u32, SessionError> {
        if !self.has_logits {
            return Err(SessionError::NoLogits);
        }
        let recent = self.history.recent(config.repeat_last_n);
        Ok(self.sampler.sample(&self.logits, config, recent)?)
    }

    /// Restarts the sampler's random stream from `seed` (a fresh session and [`Session::reset`]
    /// use [`DEFAULT_SEED`]); e.g. `s.set_seed(SamplerConfig::seed)` before generating.
    pub fn set_seed(&mut self, seed: u64) {
        self.sampler.reseed(seed);
    }

    /// Back to the state of a fresh session (the sampler's RNG included).
    pub fn reset(&mut self) {
        self.state.clear();
        if let Some(g) = self.gpu.as_mut() {
            g.clear_state();
        }
        self.history.clear();
        self.arena.fill(0.0);
        self.logits.fill(0.0);
        self.has_logits = false;
        self.position = 0;
        self.sampler.reseed(DEFAULT_SEED);
    }

    fn check_token(&self, t: u32) -> Result<(), SessionError> {
        if self.model.plan().token_embd.is_none() {
            return Err(SessionError::TokensUnsupported {
                frame_dim: self.model.config().input_width(),
            });
        }
        let vocab = self.model.config().n_vocab;
        if (t as usize) < vocab {
            Ok(())
        } else {
            Err(SessionError::TokenOutOfRange { token: t, vocab })
        }
    }

    /// Validates a whole prompt before touching any state.
    fn check_prompt(&self, tokens: &[u32]) -> Result<(), SessionError> {
        if tokens.is_empty() {
            return Err(SessionError::EmptyPrompt);
        }
        tokens.iter().try_for_each(|&t| self.check_token(t))
    }

    fn run_decode(&mut self) {
        if let Some(g) = self.gpu.as_mut() {
            g.run(false, self.position, 1, &mut self.logits, None);
            self.has_logits = true;
            self.position += 1;
            return;
        }
        let run = Run {
            model: &self.model,
            arena: &mut self.arena,
            state: &mut self.state,
            pos0: self.position,
            n: 1,
        };
        self.backend.run(&self.decode, run);
        self.logits
            .copy_from_slice(&self.arena[self.decode.output.row(0, 1)]);
        self.has_logits = true;
        self.position += 1;
    }

    /// Runs the prefill Program over one chunk; copies every row's logits into `all` if given.
    fn run_prefill(&mut self, chunk: &[u32], all: Option<&mut [f32]>) {
        let n = chunk.len();
        chunk.iter().for_each(|&t| self.history.push(t));
        if let Some(g) = self.gpu.as_mut() {
            g.set_tokens(chunk);
            g.run(true, self.position, n, &mut self.logits, all);
            self.has_logits = true;
            self.position += n;
            return;
        }
        self.backend
            .embed(&self.model, chunk, self.prefill.input, &mut self.arena);
        let run = Run {
            model: &self.model,
            arena: &mut self.arena,
            state: &mut self.state,
            pos0: self.position,
            n,
        };
        self.backend.run(&self.prefill, run);
        let out = self.prefill.output;
        if let Some(all) = all {
            let v = out.width;
            for r in 0..out.row_count(n) {
                all[r * v..(r + 1) * v].copy_from_slice(&self.arena[out.row(r, n)]);
            }
        }
        let last = out.row_count(n) - 1;
        self.logits.copy_from_slice(&self.arena[out.row(last, n)]);
        self.has_logits = true;
        self.position += n;
    }
}

/// Index of the largest value (the first on ties; NaN never wins).
fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}
