//! `weft_model`: a loaded model (memory-mapped GGUF + tokenizer), shared by sessions.

use std::ffi::{CString, c_char};
use std::path::Path;
use std::sync::Arc;

use weft::Model;
use weft::gguf::{Gguf, Placement};
use weft::tokenizer::Tokenizer;

use crate::error::{Failure, FfiResult, guard};
use crate::params::{self, weft_model_default_params, weft_model_params};
use crate::ptr;
use crate::status::weft_status;
use crate::tokenizer;

/// A loaded model. Immutable: any number of threads may use one `weft_model` at once.
/// Sessions and detokenizers keep it alive, so it may be freed before them.
pub struct weft_model {
    pub(crate) model: Arc<Model>,
    pub(crate) tokenizer: Option<Tokenizer>,
    pub(crate) architecture: CString,
    pub(crate) name: CString,
}

/// What `weft_model_info` reports. Set `size` to `sizeof(weft_model_desc)` before the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct weft_model_desc {
    pub size: usize,
    /// "mamba", "mamba2", "jamba", "zamba2" or "llama"; valid while the model lives.
    pub architecture: *const c_char,
    /// `general.name` ("" when absent); valid while the model lives.
    pub name: *const c_char,
    pub n_vocab: u32,
    /// Model width.
    pub n_embd: u32,
    pub n_layer: u32,
    /// Trained context length, 0 when the file states none.
    pub n_ctx: u32,
    /// -1 when the model has none.
    pub bos_token: i32,
    pub eos_token: i32,
    pub has_tokenizer: bool,
    /// Bytes of the model file (memory-mapped, not copied).
    pub file_size: u64,
    /// Floats per frame for `weft_session_step_frame`: the frame size of a frame (sensor)
    /// model, else `n_embd` (an embedding-sized frame replaces a token embedding).
    pub frame_size: u32,
    /// Floats per step output: the predicted next frame of a regression model, else `n_vocab`.
    pub output_size: u32,
    /// False for frame models, which refuse tokens.
    pub accepts_tokens: bool,
    /// The output is a regression (the predicted next frame), not vocabulary logits.
    pub regression: bool,
}

impl params::Params for weft_model_desc {
    const NAME: &'static str = "weft_model_desc";
}

/// What a load needs besides the path; `progress` returns false to abort.
pub(crate) struct LoadOptions<'a> {
    pub tokenizer: Option<&'a Path>,
    pub prefault: bool,
    pub huge_pages: bool,
    pub progress: &'a mut dyn FnMut(f32) -> bool,
}

impl LoadOptions<'_> {
    fn report(&mut self, fraction: f32) -> FfiResult {
        if (self.progress)(fraction) {
            Ok(())
        } else {
            Err(Failure::new(
                weft_status::WEFT_ERR_CANCELLED,
                "model load aborted by the progress callback",
            ))
        }
    }
}

/// Touches one byte per page so the whole file is resident before the first step.
fn prefault(bytes: &[u8], opts: &mut LoadOptions) -> FfiResult {
    const PAGE: usize = 4096;
    const REPORTS: usize = 64;
    let per_report = bytes.len().div_ceil(REPORTS).max(PAGE);
    let parts = bytes.len().div_ceil(per_report);
    for (i, part) in bytes.chunks(per_report).enumerate() {
        let sum = part
            .iter()
            .step_by(PAGE)
            .fold(0u8, |a, &b| a.wrapping_add(b));
        std::hint::black_box(sum);
        opts.report(0.1 + 0.8 * (i + 1) as f32 / parts as f32)?;
    }
    Ok(())
}

/// Loads the model at `path` and finds its tokenizer (the C and Java entry points share this).
pub(crate) fn load(path: &Path, mut opts: LoadOptions) -> FfiResult<weft_model> {
    opts.report(0.0)?;
    let gguf = if opts.huge_pages {
        // Reading the file into place touches every page, as a prefault does.
        let progress = &mut *opts.progress;
        let mut read = |f: f32| progress(0.1 + 0.8 * f);
        Gguf::open_with(path, Placement::HugePages, &mut read).map_err(weft::ModelError::from)?
    } else {
        let gguf = Gguf::open(path).map_err(weft::ModelError::from)?;
        opts.report(0.1)?;
        if opts.prefault {
            prefault(gguf.as_bytes(), &mut opts)?;
        }
        gguf
    };
    let model = Model::from_gguf(gguf)?;
    opts.report(0.95)?;
    let tokenizer = tokenizer::load(model.gguf(), path, opts.tokenizer)?;
    let architecture = CString::new(model.config().arch.name()).unwrap_or_default();
    let name = model
        .gguf()
        .opt_str("general.name")
        .ok()
        .flatten()
        .and_then(|s| CString::new(s).ok())
        .unwrap_or_default();
    opts.report(1.0)?;
    Ok(weft_model {
        model: Arc::new(model),
        tokenizer,
        architecture,
        name,
    })
}

/// Memory-maps and validates the GGUF file at `path` (UTF-8) and finds its tokenizer.
/// `params` may be NULL (defaults). On success `*out` owns the model (free it with
/// `weft_model_free`); on failure `*out` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_model_load(
    path: *const c_char,
    params: *const weft_model_params,
    out: *mut *mut weft_model,
) -> weft_status {
    guard(|| {
        // SAFETY (all three): pointers checked by `ptr`; validity is the caller's contract.
        let out = unsafe { ptr::out(out, "out") }?;
        *out = std::ptr::null_mut();
        let path = unsafe { ptr::c_str(path, "path") }?;
        let p = unsafe { params::read(params, weft_model_default_params()) }?;
        let tokenizer = if p.tokenizer_path.is_null() {
            None
        } else {
            Some(Path::new(unsafe {
                ptr::c_str(p.tokenizer_path, "tokenizer_path")
            }?))
        };
        let mut progress = |fraction: f32| match p.progress {
            // SAFETY: the caller's callback with its own user data.
            Some(cb) => unsafe { cb(fraction, p.progress_user_data) },
            None => true,
        };
        let opts = LoadOptions {
            tokenizer,
            prefault: p.prefault,
            huge_pages: p.huge_pages()?,
            progress: &mut progress,
        };
        *out = Box::into_raw(Box::new(load(Path::new(path), opts)?));
        Ok(())
    })
}

/// Fills `*desc` (whose `size` the caller sets) with the model's shape and tokenizer facts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_model_info(
    model: *const weft_model,
    desc: *mut weft_model_desc,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let m = unsafe { ptr::get(model, "model") }?;
        let caller = unsafe { params::read(desc.cast_const(), describe(m)) }?;
        let out = unsafe { ptr::out(desc, "desc") }?;
        *out = weft_model_desc {
            size: caller.size,
            ..describe(m)
        };
        Ok(())
    })
}

pub(crate) fn describe(m: &weft_model) -> weft_model_desc {
    let c = m.model.config();
    let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let id = |t: Option<u32>| t.and_then(|t| i32::try_from(t).ok()).unwrap_or(-1);
    let tok = m.tokenizer.as_ref();
    weft_model_desc {
        size: size_of::<weft_model_desc>(),
        architecture: m.architecture.as_ptr(),
        name: m.name.as_ptr(),
        n_vocab: u(c.n_vocab),
        n_embd: u(c.n_embd),
        n_layer: u(c.n_layer),
        n_ctx: u(c.n_ctx.unwrap_or(0)),
        bos_token: id(tok.and_then(Tokenizer::bos_id)),
        eos_token: id(tok.and_then(Tokenizer::eos_id)),
        has_tokenizer: tok.is_some(),
        file_size: m.model.gguf().as_bytes().len() as u64,
        frame_size: u(c.input_width()),
        output_size: u(c.output_width()),
        accepts_tokens: m.model.plan().token_embd.is_some(),
        regression: c.frames.as_ref().is_some_and(|f| f.regression),
    }
}

/// Frees `*model` and sets it to NULL. NULL or `*model == NULL` does nothing, so calling it twice
/// is harmless. Sessions created from the model stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_model_free(model: *mut *mut weft_model) {
    // SAFETY: `model` is NULL or the address of a handle from `weft_model_load`.
    unsafe { ptr::free(model) }
}
