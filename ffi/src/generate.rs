//! Push-style generation with a token callback, and thread-safe cancellation.

use std::ffi::{c_char, c_void};
use std::sync::atomic::Ordering;

use weft::SessionError;
use weft::sample::SamplerConfig;

use crate::error::{Failure, FfiResult, guard};
use crate::params::weft_sampling_params;
use crate::ptr;
use crate::session::{sampler, weft_session};
use crate::status::weft_status;

/// Called once per generated token with its text (`piece`, NUL-terminated, `piece_len` bytes;
/// "" while a multi-byte character is incomplete, for special tokens, or when the model has no
/// tokenizer). `piece` is valid only during the call. Return 0 to stop, anything else to go on.
/// The callback must not call into the same session (that returns `WEFT_ERR_BUSY`), except
/// `weft_session_cancel`.
pub type weft_token_callback = Option<
    unsafe extern "C" fn(
        token: u32,
        piece: *const c_char,
        piece_len: usize,
        user_data: *mut c_void,
    ) -> i32,
>;

fn cancelled() -> Failure {
    Failure::new(weft_status::WEFT_ERR_CANCELLED, "generation cancelled")
}

/// Generation loop shared by the C and Java entry points. `on_token(token, piece)` returns
/// false to stop; `piece` is followed by a NUL in memory. Each emitted token is fed to the
/// session, so a later call continues the text; the model's EOS token ends generation and is
/// neither emitted nor fed.
pub(crate) fn run(
    s: &weft_session,
    prompt: &[u32],
    config: &SamplerConfig,
    max_tokens: usize,
    mut on_token: impl FnMut(u32, &[u8]) -> bool,
) -> FfiResult {
    let mut inner = s.lock()?;
    s.cancel.store(false, Ordering::SeqCst);
    let inner = &mut *inner;
    if !prompt.is_empty() {
        let vocab = inner.session.model().config().n_vocab;
        if let Some(&token) = prompt.iter().find(|&&t| t as usize >= vocab) {
            return Err(SessionError::TokenOutOfRange { token, vocab }.into());
        }
        // Same chunks as one prefill call (bit-identical), with a cancel check between them.
        for chunk in prompt.chunks(inner.session.config().prefill_chunk) {
            if s.cancel.load(Ordering::SeqCst) {
                return Err(cancelled());
            }
            inner.session.prefill(chunk)?;
        }
    }
    if let Some(d) = inner.detok.as_mut() {
        d.reset();
    }
    for _ in 0..max_tokens {
        if s.cancel.load(Ordering::SeqCst) {
            return Err(cancelled());
        }
        let token = inner.session.sample(config)?;
        if Some(token) == inner.eos {
            break;
        }
        // A token the tokenizer does not know (vocabulary padding) simply has no text.
        let piece = match inner.detok.as_mut().map(|d| d.push(token)) {
            Some(Ok(piece)) => piece,
            _ => &b"\0"[..0],
        };
        let go_on = on_token(token, piece);
        inner.session.step(weft::Input::Token(token))?;
        if !go_on {
            break;
        }
    }
    Ok(())
}

/// Prefills `prompt` (`n_prompt` tokens; 0 = continue from the current logits), then samples and
/// feeds up to `max_tokens` tokens, calling `on_token` (may be NULL) for each. Stops early at
/// the model's EOS token or when `on_token` returns 0 (both `WEFT_OK`), or when
/// `weft_session_cancel` is called (`WEFT_ERR_CANCELLED`; the tokens fed so far stay fed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_generate(
    session: *mut weft_session,
    prompt: *const u32,
    n_prompt: usize,
    sampling: *const weft_sampling_params,
    max_tokens: u32,
    on_token: weft_token_callback,
    user_data: *mut c_void,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let prompt = unsafe { ptr::slice(prompt, n_prompt, "prompt") }?;
        let config = sampler(sampling)?;
        run(s, prompt, &config, max_tokens as usize, |token, piece| {
            on_token.is_none_or(|cb| {
                // SAFETY: the caller's callback with its own user data; `piece` is NUL-terminated.
                unsafe { cb(token, piece.as_ptr().cast(), piece.len(), user_data) != 0 }
            })
        })
    })
}

/// Asks a running `weft_session_generate` on this session to stop before its next token. Safe
/// to call from any thread (and from the token callback). A generate call started later is not
/// affected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_cancel(session: *const weft_session) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; the session outlives this call by contract.
        let s = unsafe { ptr::get(session, "session") }?;
        s.cancel.store(true, Ordering::SeqCst);
        Ok(())
    })
}
