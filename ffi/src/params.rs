//! Parameter structs. Each starts with its own `size` (set by the `*_default_params()` function
//! that fills it), so later versions can append fields without breaking compiled callers.

use std::ffi::{c_char, c_void};

use weft::backend::Backend;
use weft::sample::SamplerConfig;
use weft::{KvType, SessionConfig};

use crate::error::{Failure, FfiResult};

/// Load progress: `progress` goes from 0 to 1. Return false to abort the load
/// (`weft_model_load` then returns `WEFT_ERR_CANCELLED`).
pub type weft_progress_callback =
    Option<unsafe extern "C" fn(progress: f32, user_data: *mut c_void) -> bool>;

/// How `weft_model_load` opens a model. Get one from `weft_model_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct weft_model_params {
    /// `sizeof(weft_model_params)`, set by `weft_model_default_params()`.
    pub size: usize,
    /// A `tokenizer.json` to use instead of the one inside the GGUF file; NULL = the embedded
    /// tokenizer, else a `tokenizer.json` beside the model file, else none.
    pub tokenizer_path: *const c_char,
    /// Optional progress callback (NULL = none), called on the loading thread.
    pub progress: weft_progress_callback,
    pub progress_user_data: *mut c_void,
    /// Read every page of the file during the load (progress reported as it goes), so the first
    /// tokens do not pay for page faults. Default false: pages are read on first use.
    pub prefault: bool,
    /// Where the weights live: `WEFT_PLACEMENT_MAPPED` (default: memory-mapped, zero-copy) or
    /// `WEFT_PLACEMENT_HUGE_PAGES` (read into private memory backed by transparent huge pages on
    /// Linux and Android: faster decode, fewer TLB misses, for a read of the whole file at load
    /// and private memory the size of the file; implies `prefault`). 64 bits wide so that it
    /// lies past the end of the struct's first version: callers built before it existed pass
    /// the old `size` and get the default.
    pub placement: u64,
}

/// `weft_model_params.placement`: memory-map the file.
pub const WEFT_PLACEMENT_MAPPED: u64 = 0;
/// `weft_model_params.placement`: read the file into transparent huge pages.
pub const WEFT_PLACEMENT_HUGE_PAGES: u64 = 1;

/// How `weft_session_new` sets up a session. Get one from `weft_session_default_params()`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct weft_session_params {
    /// `sizeof(weft_session_params)`, set by `weft_session_default_params()`.
    pub size: usize,
    /// Recent positions each attention KV ring keeps (capped at the model's context length).
    pub kv_window: u32,
    /// First positions every KV ring keeps forever (attention sinks).
    pub kv_sinks: u32,
    /// Tokens per prefill run.
    pub prefill_chunk: u32,
    /// Threads of the CPU backend, the calling thread included; 0 = the physical cores.
    /// Started with the session; results do not depend on the count.
    pub threads: u32,
    /// Tokens of history kept for the repetition penalty.
    pub history: u32,
    /// Multiply Q8_0/Q4_0 weights with int8-quantized activations (llama.cpp's scheme): faster,
    /// about 0.5% relative rounding per matmul. Default false.
    pub int8_activations: bool,
    /// Where the session runs: `WEFT_BACKEND_CPU` (default), `WEFT_BACKEND_GPU` (wgpu: Vulkan,
    /// Metal, DX12, GLES 3.1; `weft_session_new` fails if no adapter passes the start-up
    /// self-test or the library was built without the GPU) or `WEFT_BACKEND_AUTO` (the GPU if
    /// usable, else the CPU).
    pub backend: u32,
    /// How the KV rings store keys and values: `WEFT_KV_F32` (default, exact) or `WEFT_KV_F16`
    /// (half the memory and half the bytes attention reads per token, rounded once when
    /// cached, on either backend). 64 bits wide so that it lies past the end of the struct's
    /// first version.
    pub kv_type: u64,
}

/// `weft_session_params.kv_type`: f32 keys and values.
pub const WEFT_KV_F32: u64 = 0;
/// `weft_session_params.kv_type`: f16 keys and values.
pub const WEFT_KV_F16: u64 = 1;

/// `weft_session_params.backend`: the CPU.
pub const WEFT_BACKEND_CPU: u32 = 0;
/// `weft_session_params.backend`: the GPU, or an error.
pub const WEFT_BACKEND_GPU: u32 = 1;
/// `weft_session_params.backend`: the GPU if one is usable, else the CPU.
pub const WEFT_BACKEND_AUTO: u32 = 2;

/// Sampling settings (llama.cpp names and defaults). `temperature` 0 = greedy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct weft_sampling_params {
    /// `sizeof(weft_sampling_params)`, set by `weft_sampling_default_params()`.
    pub size: usize,
    pub temperature: f32,
    /// 0 disables.
    pub top_k: u32,
    /// 1 disables.
    pub top_p: f32,
    /// 0 disables.
    pub min_p: f32,
    /// 1 disables.
    pub repetition_penalty: f32,
    /// Tokens the repetition penalty looks back over; 0 disables.
    pub repeat_last_n: u32,
}

/// Default model parameters: embedded tokenizer, no progress callback, no prefault, mapped.
#[unsafe(no_mangle)]
pub extern "C" fn weft_model_default_params() -> weft_model_params {
    weft_model_params {
        size: size_of::<weft_model_params>(),
        tokenizer_path: std::ptr::null(),
        progress: None,
        progress_user_data: std::ptr::null_mut(),
        prefault: false,
        placement: WEFT_PLACEMENT_MAPPED,
    }
}

/// Default session parameters (kv_window 4096, kv_sinks 4, prefill_chunk 64, 1 thread,
/// history 256, f32 activations, f32 KV rings).
#[unsafe(no_mangle)]
pub extern "C" fn weft_session_default_params() -> weft_session_params {
    let c = SessionConfig::default();
    weft_session_params {
        size: size_of::<weft_session_params>(),
        kv_window: saturate(c.kv_window),
        kv_sinks: saturate(c.kv_sinks),
        prefill_chunk: saturate(c.prefill_chunk),
        threads: saturate(c.threads),
        history: saturate(c.history),
        int8_activations: c.int8_activations,
        backend: WEFT_BACKEND_CPU,
        kv_type: WEFT_KV_F32,
    }
}

/// Default sampling (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no repetition penalty).
#[unsafe(no_mangle)]
pub extern "C" fn weft_sampling_default_params() -> weft_sampling_params {
    sampling_from(&SamplerConfig::default())
}

/// Greedy decoding: always the most likely token.
#[unsafe(no_mangle)]
pub extern "C" fn weft_sampling_greedy_params() -> weft_sampling_params {
    sampling_from(&SamplerConfig::greedy())
}

fn saturate(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn sampling_from(c: &SamplerConfig) -> weft_sampling_params {
    weft_sampling_params {
        size: size_of::<weft_sampling_params>(),
        temperature: c.temperature,
        top_k: saturate(c.top_k),
        top_p: c.top_p,
        min_p: c.min_p,
        repetition_penalty: c.repetition_penalty,
        repeat_last_n: saturate(c.repeat_last_n),
    }
}

/// A parameter struct every version of which starts with `size`.
pub trait Params: Sized {
    const NAME: &'static str;
    /// `size` of the struct's first version: callers built against an older version pass a
    /// smaller `size` (at least this), and the fields appended since keep their defaults.
    const FIRST_SIZE: usize = size_of::<Self>();
}

impl Params for weft_model_params {
    const NAME: &'static str = "weft_model_params";
    // Everything up to and including `prefault`, with its padding: `placement` came later.
    const FIRST_SIZE: usize = std::mem::offset_of!(weft_model_params, placement);
}
impl Params for weft_session_params {
    const NAME: &'static str = "weft_session_params";
    // Everything up to and including `backend`, with its padding: `kv_type` came later.
    const FIRST_SIZE: usize = std::mem::offset_of!(weft_session_params, kv_type);
}
impl Params for weft_sampling_params {
    const NAME: &'static str = "weft_sampling_params";
}

/// Reads a caller's parameter struct (NULL = `default`). Its `size` must cover this version's
/// fields: a larger struct comes from a newer header and its extra fields are ignored; a
/// smaller one is refused rather than half-read.
///
/// # Safety
/// `p` is NULL or points to at least `(*p).size` readable bytes.
pub unsafe fn read<T: Params + Copy>(p: *const T, default: T) -> FfiResult<T> {
    if p.is_null() {
        return Ok(default);
    }
    if !p.is_aligned() {
        return Err(Failure::invalid(format!("`{}` is misaligned", T::NAME)));
    }
    // SAFETY: non-NULL, aligned, and every version of the struct starts with `size: usize`.
    let size = unsafe { p.cast::<usize>().read() };
    if size < T::FIRST_SIZE {
        return Err(Failure::invalid(format!(
            "{}.size is {size}, this library needs at least {} (fill it with the matching \
             *_default_params() function)",
            T::NAME,
            T::FIRST_SIZE
        )));
    }
    // An older caller's struct is a prefix of this one: its fields over the defaults.
    let mut out = default;
    let n = size.min(size_of::<T>());
    // SAFETY: the caller's struct holds at least `n` bytes laid out as the first `n` bytes of a
    // `T` (every version only appends fields, and `FIRST_SIZE` ends on a field boundary), so
    // each field within them is one the caller's version has and set.
    unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&raw mut out).cast::<u8>(), n) };
    Ok(out)
}

impl weft_model_params {
    /// Whether `placement` asks for huge pages (an unknown value is an error).
    pub fn huge_pages(&self) -> FfiResult<bool> {
        match self.placement {
            WEFT_PLACEMENT_MAPPED => Ok(false),
            WEFT_PLACEMENT_HUGE_PAGES => Ok(true),
            v => Err(Failure::invalid(format!(
                "weft_model_params.placement is {v}: use WEFT_PLACEMENT_MAPPED (0) or \
                 WEFT_PLACEMENT_HUGE_PAGES (1)"
            ))),
        }
    }
}

impl weft_session_params {
    pub fn to_config(self) -> FfiResult<SessionConfig> {
        let backend = match self.backend {
            WEFT_BACKEND_CPU => Backend::Cpu,
            WEFT_BACKEND_GPU => Backend::Gpu,
            WEFT_BACKEND_AUTO => Backend::Auto,
            b => {
                return Err(Failure::invalid(format!(
                    "weft_session_params.backend is {b}: use WEFT_BACKEND_CPU (0), \
                     WEFT_BACKEND_GPU (1) or WEFT_BACKEND_AUTO (2)"
                )));
            }
        };
        let kv_type = match self.kv_type {
            WEFT_KV_F32 => KvType::F32,
            WEFT_KV_F16 => KvType::F16,
            v => {
                return Err(Failure::invalid(format!(
                    "weft_session_params.kv_type is {v}: use WEFT_KV_F32 (0) or WEFT_KV_F16 (1)"
                )));
            }
        };
        Ok(SessionConfig {
            backend,
            kv_type,
            kv_window: self.kv_window as usize,
            kv_sinks: self.kv_sinks as usize,
            prefill_chunk: self.prefill_chunk as usize,
            threads: self.threads as usize,
            history: self.history as usize,
            int8_activations: self.int8_activations,
            ..SessionConfig::default()
        })
    }
}

impl weft_sampling_params {
    pub fn to_config(self) -> FfiResult<SamplerConfig> {
        let c = SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k as usize,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            repeat_last_n: self.repeat_last_n as usize,
            ..SamplerConfig::default()
        };
        c.validate()
            .map_err(|e| Failure::invalid(format!("weft_sampling_params: {e}")))?;
        Ok(c)
    }
}
