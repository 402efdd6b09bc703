//! `weft_detokenizer`: token ids in, UTF-8 text pieces out, never splitting a character.

use std::ffi::c_char;

use weft::tokenizer::{StreamDecoder, Tokenizer, TokenizerError};

use crate::error::guard;
use crate::model::weft_model;
use crate::ptr;
use crate::status::weft_status;
use crate::text::tokenizer_of;

/// A stream decoder plus the last piece as a C string (reused, so steady streaming does not
/// allocate for the output).
pub struct Detok {
    dec: StreamDecoder,
    /// Last piece + NUL.
    text: Vec<u8>,
}

impl Detok {
    pub fn new(tok: &Tokenizer, skip_special: bool) -> Self {
        Detok {
            dec: StreamDecoder::new(tok, skip_special),
            text: vec![0],
        }
    }

    /// Feeds one token; the new text (possibly empty while a character is incomplete).
    pub fn push(&mut self, token: u32) -> Result<&[u8], TokenizerError> {
        let piece = self.dec.push(token)?;
        Ok(Self::keep(&mut self.text, piece))
    }

    /// Whatever is held, as text (an incomplete character becomes U+FFFD); starts afresh.
    pub fn flush(&mut self) -> Result<&[u8], TokenizerError> {
        let piece = self.dec.flush()?;
        Ok(Self::keep(&mut self.text, piece))
    }

    pub fn reset(&mut self) {
        self.dec.reset();
        Self::keep(&mut self.text, None);
    }

    /// The last piece, NUL-terminated.
    pub fn c_text(&self) -> *const c_char {
        self.text.as_ptr().cast()
    }

    fn keep<'a>(text: &'a mut Vec<u8>, piece: Option<&str>) -> &'a [u8] {
        text.clear();
        text.extend_from_slice(piece.unwrap_or("").as_bytes());
        text.push(0);
        &text[..text.len() - 1]
    }
}

/// Incremental detokenizer over a model's tokenizer. One thread at a time.
pub struct weft_detokenizer(Detok);

/// A detokenizer for `model`'s tokenizer (`WEFT_ERR_TOKENIZER` if it has none). With
/// `skip_special`, special tokens (EOS, chat markers) produce no text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_detokenizer_new(
    model: *const weft_model,
    skip_special: bool,
    out: *mut *mut weft_detokenizer,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let out = unsafe { ptr::out(out, "out") }?;
        *out = std::ptr::null_mut();
        let m = unsafe { ptr::get(model, "model") }?;
        let d = weft_detokenizer(Detok::new(tokenizer_of(m)?, skip_special));
        *out = Box::into_raw(Box::new(d));
        Ok(())
    })
}

fn emit(d: &Detok, len: usize, text: *mut *const c_char, text_len: *mut usize) {
    // SAFETY: optional out-parameters; `put` skips NULL.
    unsafe {
        ptr::put(text, d.c_text());
        ptr::put(text_len, len);
    }
}

/// Feeds `token`. `*text` receives the new text (NUL-terminated, "" while a multi-byte
/// character is incomplete) and `*text_len` its length; either may be NULL. The text stays valid
/// until the next call on this detokenizer. An unknown token is `WEFT_ERR_TOKENIZER` and is not
/// consumed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_detokenizer_push(
    detok: *mut weft_detokenizer,
    token: u32,
    text: *mut *const c_char,
    text_len: *mut usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; one thread at a time by contract.
        let d = &mut unsafe { ptr::out(detok, "detok") }?.0;
        let len = d.push(token)?.len();
        emit(d, len, text, text_len);
        Ok(())
    })
}

/// Emits whatever is held (an incomplete character as U+FFFD) and starts afresh: call it when a
/// stream ends. Outputs as for `weft_detokenizer_push`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_detokenizer_flush(
    detok: *mut weft_detokenizer,
    text: *mut *const c_char,
    text_len: *mut usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; one thread at a time by contract.
        let d = &mut unsafe { ptr::out(detok, "detok") }?.0;
        let len = d.flush()?.len();
        emit(d, len, text, text_len);
        Ok(())
    })
}

/// Forgets held tokens and context (e.g. at a new turn).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_detokenizer_reset(detok: *mut weft_detokenizer) -> weft_status {
    guard(|| {
        // SAFETY: pointer checked by `ptr`; one thread at a time by contract.
        unsafe { ptr::out(detok, "detok") }?.0.reset();
        Ok(())
    })
}

/// Frees `*detok` and sets it to NULL; NULL-safe and idempotent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_detokenizer_free(detok: *mut *mut weft_detokenizer) {
    // SAFETY: `detok` is NULL or the address of a handle from `weft_detokenizer_new`.
    unsafe { ptr::free(detok) }
}
