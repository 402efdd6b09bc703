//! What `run`, `chat` and `stream` share: finding the bundled demo models, loading a model and
//! its tokenizer with errors that say what to do, sampling/session options, and the end-of-run
//! statistics line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use weft::backend::Backend;
use weft::gguf::Placement;
use weft::sample::SamplerConfig;
use weft::tokenizer::Tokenizer;
use weft::{KvType, Model, SessionConfig};

/// The bundled text model (`models/demo-text.gguf`).
pub const DEMO_TEXT: &str = "demo-text.gguf";
/// The bundled sensor model (`models/demo-sensor.gguf`).
pub const DEMO_SENSOR: &str = "demo-sensor.gguf";

/// Where the bundled models are looked for, in order: `$WEFT_MODELS`, `./models`, a `models/`
/// folder next to the executable or any of its ancestors (a `target/release/weft` inside the
/// repository), and the repository this binary was built from.
fn demo_candidates(name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("WEFT_MODELS") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.push(PathBuf::from("models"));
    if let Ok(exe) = std::env::current_exe() {
        dirs.extend(exe.ancestors().skip(1).map(|d| d.join("models")));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    dirs.into_iter().map(|d| d.join(name)).collect()
}

/// `model` if given, else the bundled demo model `demo` (see [`demo_candidates`]).
pub fn model_path(model: Option<&Path>, demo: &str) -> Result<PathBuf, String> {
    if let Some(path) = model {
        if !path.is_file() {
            return Err(format!(
                "model file {} not found (pass a .gguf file; `weft convert` makes one from a \
                 Hugging Face folder)",
                path.display()
            ));
        }
        return Ok(path.to_path_buf());
    }
    demo_candidates(demo)
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no model given and the bundled models/{demo} was not found; run from the weft \
                 repository, set WEFT_MODELS to its models/ folder, or pass a .gguf file"
            )
        })
}

/// Where `--huge-pages` (or its absence) puts the weights.
pub fn placement(huge_pages: bool) -> Placement {
    if huge_pages {
        Placement::HugePages
    } else {
        Placement::Mapped
    }
}

/// Memory-maps (or, with `huge_pages`, reads into huge pages) and checks a GGUF model, naming
/// the file in errors.
pub fn load_model(path: &Path, huge_pages: bool) -> Result<Arc<Model>, String> {
    Model::load_with(path, placement(huge_pages))
        .map(Arc::new)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The model's tokenizer: `--tokenizer FILE` if given, else the one embedded in the GGUF, else a
/// `tokenizer.json` next to the model file.
pub fn load_tokenizer(
    model: &Model,
    model_path: &Path,
    sidecar: Option<&Path>,
) -> Result<Tokenizer, String> {
    let from_file = |path: &Path| {
        Tokenizer::from_file(path).map_err(|e| format!("tokenizer {}: {e}", path.display()))
    };
    if let Some(path) = sidecar {
        return from_file(path);
    }
    if let Some(tok) = model
        .tokenizer()
        .map_err(|e| format!("{}: {e}", model_path.display()))?
    {
        return Ok(tok);
    }
    let beside = model_path.with_file_name("tokenizer.json");
    if beside.is_file() {
        return from_file(&beside);
    }
    Err(format!(
        "{} has no tokenizer (no tokenizer.huggingface.json or tokenizer.ggml.* keys) and there \
         is no tokenizer.json beside it; pass --tokenizer FILE",
        model_path.display()
    ))
}

/// Sampling options (defaults: llama.cpp's).
#[derive(clap::Args, Clone, Debug)]
pub struct SamplingArgs {
    /// Softmax temperature; 0 = greedy (which makes small models loop).
    #[arg(long, default_value_t = 0.8)]
    pub temp: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches P (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than P × the most likely one (0 = off).
    #[arg(long, default_value_t = 0.05)]
    pub min_p: f32,
    /// Penalise tokens seen in the last --repeat-last-n tokens (1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    #[arg(long, default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Random seed; the same seed and options give the same text.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl SamplingArgs {
    /// The sampler configuration, checked (bad values are reported before the model loads).
    pub fn config(&self) -> Result<SamplerConfig, String> {
        let c = SamplerConfig {
            temperature: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            seed: self.seed,
        };
        c.validate().map_err(|e| format!("sampling options: {e}"))?;
        Ok(c)
    }
}

/// `--backend`: where a session's steps run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    /// The CPU (SIMD kernels, `--threads` workers).
    #[default]
    Cpu,
    /// The GPU through wgpu; an error if none is usable (or the build lacks feature `gpu`).
    Gpu,
    /// The GPU if one passes its self-test, else the CPU.
    Auto,
}

impl BackendArg {
    pub fn backend(self) -> Backend {
        match self {
            BackendArg::Cpu => Backend::Cpu,
            BackendArg::Gpu => Backend::Gpu,
            BackendArg::Auto => Backend::Auto,
        }
    }
}

/// Explains a GPU request this build cannot serve, before any model is loaded.
pub fn check_backend(arg: BackendArg) -> Result<(), String> {
    if arg == BackendArg::Gpu && !cfg!(feature = "gpu") {
        return Err("this weft was built without the GPU backend; rebuild with \
                    `cargo build --release -p weft-cli --features gpu` or use --backend cpu"
            .into());
    }
    Ok(())
}

/// Session options.
#[derive(clap::Args, Clone, Debug)]
pub struct SessionArgs {
    /// Where the model runs: cpu, gpu (wgpu: Vulkan/Metal/DX12/GLES) or auto.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: BackendArg,
    /// Worker threads (0: one per physical core).
    #[arg(short = 't', long, default_value_t = 0)]
    pub threads: usize,
    /// Recent positions each attention layer keeps (besides the sinks); capped at the model's
    /// context length.
    #[arg(long, default_value_t = SessionConfig::default().kv_window)]
    pub kv_window: usize,
    /// How the KV cache stores keys and values: f32 (exact) or f16 (half the memory and half
    /// the bytes attention reads per token).
    #[arg(long, default_value = "f32")]
    pub kv_type: KvType,
    /// Multiply Q8_0/Q4_0 weights with int8-quantized activations (llama.cpp's scheme): the
    /// fast CPU path (AVX-512 VNNI, AVX2, ARM dotprod), about 0.5% relative rounding per
    /// matmul. Off: f32 activations, exactly the stored weights' values.
    #[arg(long)]
    pub int8: bool,
    /// Read the model into private memory backed by transparent huge pages (Linux) instead of
    /// memory-mapping it: faster decode (fewer TLB misses) for a read of the whole file at load
    /// and private memory the size of the file.
    #[arg(long)]
    pub huge_pages: bool,
}

impl SessionArgs {
    pub fn config(&self) -> SessionConfig {
        SessionConfig {
            threads: self.threads,
            kv_window: self.kv_window,
            kv_type: self.kv_type,
            backend: self.backend.backend(),
            int8_activations: self.int8,
            ..SessionConfig::default()
        }
    }
}

/// Where a session runs, for the statistics line: `GPU` or `N thread(s)`, whether Q8_0/Q4_0
/// matmuls take int8 activations and whether the weights sit in huge pages.
pub fn engine_label(s: &weft::Session) -> String {
    let mut label = match (s.backend(), s.threads()) {
        (Backend::Gpu, _) => "GPU".to_string(),
        (_, 1) => "1 thread".to_string(),
        (_, n) => format!("{n} threads"),
    };
    if s.backend() != Backend::Gpu && s.config().int8_activations {
        label.push_str(", int8 activations");
    }
    if s.config().kv_type != KvType::F32 {
        label.push_str(&format!(", {} KV", s.config().kv_type.name()));
    }
    if s.model().gguf().placement() == Placement::HugePages {
        label.push_str(", huge pages");
    }
    label
}

/// Peak resident memory of this process in bytes (Linux `VmHWM`), if the OS tells.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `n units in 1.23 s (45.6 units/s)`.
pub fn rate(n: usize, unit: &str, time: Duration) -> String {
    let s = time.as_secs_f64();
    let per = if s > 0.0 { n as f64 / s } else { 0.0 };
    format!("{n} {unit} in {s:.2} s ({per:.1} {unit}/s)")
}

/// The trailing statistics line (stderr): `parts`, the session state size and peak memory.
pub fn print_stats(parts: &[String], state_bytes: usize) {
    let mut line = parts.join(", ");
    line.push_str(&format!("; state {}", mib(state_bytes as u64)));
    if let Some(peak) = peak_memory() {
        line.push_str(&format!(", peak memory {}", mib(peak)));
    }
    eprintln!("{line}");
}

/// Writes and flushes `text`. `Ok(false)` when stdout was closed (e.g. piped into `head`): the
/// caller stops quietly.
pub fn emit(out: &mut impl Write, text: &str) -> Result<bool, io::Error> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes `text`, flushing when `flush` is set. `Ok(false)` when stdout was closed.
pub fn emit_buffered(out: &mut impl Write, text: &str, flush: bool) -> Result<bool, io::Error> {
    let mut result = out.write_all(text.as_bytes());
    if flush {
        result = result.and_then(|()| out.flush());
    }
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Token ids of a prompt, with the model's BOS in front when it has one and `bos` is set (the
/// demo model was trained with `<|endoftext|>` before every chapter), unless the tokenizer's own
/// post-processor already added it.
pub fn encode_prompt(tok: &Tokenizer, text: &str, bos: bool) -> Result<Vec<u32>, String> {
    let mut ids = tok
        .encode(text, true)
        .map_err(|e| format!("cannot tokenize the prompt: {e}"))?;
    if let Some(b) = tok.bos_id().filter(|_| bos)
        && ids.first() != Some(&b)
    {
        ids.insert(0, b);
    }
    Ok(ids)
}
