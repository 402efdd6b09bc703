//! `weft_session`: one stream over a model — create, step (tokens or frames), prefill, sample,
//! reset. All allocation happens in `weft_session_new`.

use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard, TryLockError};

use weft::sample::SamplerConfig;
use weft::{Input, Session, SessionError};

use crate::detok::Detok;
use crate::error::{Failure, FfiResult, guard};
use crate::model::weft_model;
use crate::params::{self, weft_sampling_params, weft_session_default_params, weft_session_params};
use crate::ptr;
use crate::status::weft_status;

/// One stream (state, scratch, last outputs). Use it from one thread at a time; a call made
/// while another thread is inside one returns `WEFT_ERR_BUSY`. Only `weft_session_cancel` may
/// be called concurrently.
pub struct weft_session {
    /// Set by `weft_session_cancel` (any thread); checked by `weft_session_generate`.
    pub(crate) cancel: AtomicBool,
    inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    pub session: Session,
    /// Decodes generated tokens for the generate callback (`None`: the model has no tokenizer).
    pub detok: Option<Detok>,
    pub eos: Option<u32>,
}

impl weft_session {
    /// The stream, or `WEFT_ERR_BUSY` if another thread is using it.
    pub(crate) fn lock(&self) -> FfiResult<MutexGuard<'_, Inner>> {
        match self.inner.try_lock() {
            Ok(g) => Ok(g),
            Err(TryLockError::WouldBlock) => Err(Failure::new(
                weft_status::WEFT_ERR_BUSY,
                "the session is in use by another thread (sessions are one thread at a time)",
            )),
            Err(TryLockError::Poisoned(_)) => Err(Failure::new(
                weft_status::WEFT_ERR_INTERNAL,
                "an earlier internal error left this session unusable: call weft_session_reset",
            )),
        }
    }
}

/// Borrowed logits out-parameters: pointer into the session, valid until its next call.
pub(crate) fn emit_logits(logits: &[f32], out: *mut *const f32, n_out: *mut usize) {
    // SAFETY: optional out-parameters; `put` skips NULL.
    unsafe {
        ptr::put(out, logits.as_ptr());
        ptr::put(n_out, logits.len());
    }
}

/// Creates a session over `model` (`params` may be NULL for defaults). Every buffer the session
/// will use is allocated here. On failure `*out` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_new(
    model: *const weft_model,
    params: *const weft_session_params,
    out: *mut *mut weft_session,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let out = unsafe { ptr::out(out, "out") }?;
        *out = std::ptr::null_mut();
        let m = unsafe { ptr::get(model, "model") }?;
        let p = unsafe { params::read(params, weft_session_default_params()) }?;
        let session = m.model.session(p.to_config()?)?;
        let tok = m.tokenizer.as_ref();
        let inner = Inner {
            session,
            detok: tok.map(|t| Detok::new(t, true)),
            eos: tok.and_then(|t| t.eos_id()),
        };
        *out = Box::into_raw(Box::new(weft_session {
            cancel: AtomicBool::new(false),
            inner: Mutex::new(inner),
        }));
        Ok(())
    })
}

/// Frees `*session` and sets it to NULL; NULL-safe and idempotent. No other thread may be using
/// the session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_free(session: *mut *mut weft_session) {
    // SAFETY: `session` is NULL or the address of a handle from `weft_session_new`.
    unsafe { ptr::free(session) }
}

/// Feeds `n` tokens (at least one) in chunks of `prefill_chunk`. `*logits`/`*n_logits` (each may
/// be NULL) receive the logits after the last token: borrowed, valid until the next call on this
/// session. Nothing changes if any token is out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_prefill(
    session: *mut weft_session,
    tokens: *const u32,
    n: usize,
    logits: *mut *const f32,
    n_logits: *mut usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let tokens = unsafe { ptr::slice(tokens, n, "tokens") }?;
        let mut inner = s.lock()?;
        emit_logits(inner.session.prefill(tokens)?, logits, n_logits);
        Ok(())
    })
}

/// Feeds one token; outputs as for `weft_session_prefill`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_step_token(
    session: *mut weft_session,
    token: u32,
    logits: *mut *const f32,
    n_logits: *mut usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let mut inner = s.lock()?;
        emit_logits(inner.session.step(Input::Token(token))?, logits, n_logits);
        Ok(())
    })
}

/// Feeds one frame of `n` floats (exactly `weft_model_desc.frame_size`): a sensor or audio
/// frame for a frame model, else an embedding-sized vector in place of a token embedding (soft
/// prompts). Outputs (`output_size` floats: logits, or a regression model's predicted next
/// frame) as for `weft_session_prefill`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_step_frame(
    session: *mut weft_session,
    frame: *const f32,
    n: usize,
    logits: *mut *const f32,
    n_logits: *mut usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let mut inner = s.lock()?;
        let expected = inner.session.model().config().input_width();
        if n != expected {
            // Checked before `frame` becomes a slice: a wrong `n` may overrun the caller's array.
            return Err(SessionError::FrameLength { expected, found: n }.into());
        }
        // SAFETY: `n` floats readable at `frame` by the caller's contract.
        let frame = unsafe { ptr::slice(frame, n, "frame") }?;
        emit_logits(inner.session.step(Input::Frame(frame))?, logits, n_logits);
        Ok(())
    })
}

/// Copies the last logits into caller memory (`n` ≥ the vocabulary size, which is written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_logits(
    session: *mut weft_session,
    out: *mut f32,
    n: usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let out = unsafe { ptr::slice_mut(out, n, "out") }?;
        let inner = s.lock()?;
        let logits = inner.session.logits().ok_or(SessionError::NoLogits)?;
        if out.len() < logits.len() {
            return Err(Failure::new(
                weft_status::WEFT_ERR_BUFFER_TOO_SMALL,
                format!(
                    "`out` holds {} floats, {} are needed",
                    out.len(),
                    logits.len()
                ),
            ));
        }
        out[..logits.len()].copy_from_slice(logits);
        Ok(())
    })
}

/// The sampling settings of a call (NULL = weft_sampling_default_params()).
pub(crate) fn sampler(p: *const weft_sampling_params) -> FfiResult<SamplerConfig> {
    // SAFETY: NULL or a caller struct whose `size` bytes are readable.
    let p = unsafe { params::read(p, crate::params::weft_sampling_default_params()) }?;
    p.to_config()
}

/// Picks the next token from the last logits (`params` NULL = default sampling) into `*token`.
/// Does not feed it: pass it to `weft_session_step_token` next. The random stream lives in the
/// session state (saved and restored with it; `weft_session_reset` restarts it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_sample(
    session: *mut weft_session,
    params: *const weft_sampling_params,
    token: *mut u32,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let out = unsafe { ptr::out(token, "token") }?;
        let config = sampler(params)?;
        *out = s.lock()?.session.sample(&config)?;
        Ok(())
    })
}

/// Back to a fresh session's state (position 0, empty history, the RNG restarted). Also clears
/// the unusable mark an internal error leaves.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_reset(session: *mut weft_session) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let mut inner = match s.inner.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return s.lock().map(drop),
        };
        inner.session.reset();
        if let Some(d) = inner.detok.as_mut() {
            d.reset();
        }
        drop(inner);
        s.inner.clear_poison();
        Ok(())
    })
}

/// Restarts the sampler's random stream from `seed` (a new session and a reset start from a
/// fixed default seed, so runs reproduce).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_set_seed(
    session: *mut weft_session,
    seed: u64,
) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        s.lock()?.session.set_seed(seed);
        Ok(())
    })
}

/// Tokens and frames consumed since creation or the last reset, into `*position`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_position(
    session: *mut weft_session,
    position: *mut u64,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let out = unsafe { ptr::out(position, "position") }?;
        *out = s.lock()?.session.position() as u64;
        Ok(())
    })
}
