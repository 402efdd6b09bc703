//! Text ↔ tokens through the model's tokenizer: `weft_tokenize`, `weft_token_to_piece`.
//! Both fill caller buffers and return a count; a negative count is the size needed.

use std::ffi::c_char;

use weft::tokenizer::Tokenizer;

use crate::error::{Failure, FfiResult, guard_with};
use crate::model::weft_model;
use crate::ptr;
use crate::status::weft_status;

/// What count-returning calls return on failure (`weft_last_status()` says why).
pub const WEFT_COUNT_ERROR: i32 = i32::MIN;

pub fn tokenizer_of(m: &weft_model) -> FfiResult<&Tokenizer> {
    m.tokenizer.as_ref().ok_or_else(|| {
        Failure::new(
            weft_status::WEFT_ERR_TOKENIZER,
            "this model has no tokenizer: convert it from a folder holding tokenizer.json, put a \
             tokenizer.json beside the file, or set weft_model_params.tokenizer_path",
        )
    })
}

/// Copies `items` into `buf` if it fits; returns the count, or minus the count when it does not.
fn fill<T: Copy>(items: &[T], buf: *mut T, cap: i32, name: &str) -> FfiResult<i32> {
    let cap = ptr::count(cap, name)?;
    let n = i32::try_from(items.len()).map_err(|_| {
        Failure::invalid(format!(
            "result has {} items, more than int32_t",
            items.len()
        ))
    })?;
    if items.len() > cap {
        return Ok(-n);
    }
    // SAFETY: the caller guarantees `cap` writable elements at `buf` (NULL allowed when 0).
    let out = unsafe { ptr::slice_mut(buf, cap, name) }?;
    out[..items.len()].copy_from_slice(items);
    Ok(n)
}

/// Tokenizes `text_len` bytes of UTF-8 `text` into `tokens` (room for `n_tokens_max`).
/// With `add_special`, the tokenizer's own special tokens (e.g. BOS) are added.
/// Returns the number of tokens; if they do not fit, nothing is written and the return is minus
/// the number needed (call again with a larger buffer; `tokens` may be NULL when
/// `n_tokens_max` is 0). On error returns `WEFT_COUNT_ERROR`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_tokenize(
    model: *const weft_model,
    text: *const c_char,
    text_len: i32,
    add_special: bool,
    tokens: *mut u32,
    n_tokens_max: i32,
) -> i32 {
    guard_with(WEFT_COUNT_ERROR, || {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let m = unsafe { ptr::get(model, "model") }?;
        let len = ptr::count(text_len, "text_len")?;
        let bytes = unsafe { ptr::slice(text.cast::<u8>(), len, "text") }?;
        let text = ptr::utf8(bytes, "text")?;
        let ids = tokenizer_of(m)?.encode(text, add_special)?;
        fill(&ids, tokens, n_tokens_max, "tokens")
    })
}

/// Writes the text of one token into `buf` (`buf_len` bytes; not NUL-terminated). Returns its
/// length in bytes, minus the length needed if `buf` is too small, or `WEFT_COUNT_ERROR`.
/// A token holding part of a UTF-8 character decodes to U+FFFD here: stream output through a
/// `weft_detokenizer` instead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_token_to_piece(
    model: *const weft_model,
    token: u32,
    buf: *mut c_char,
    buf_len: i32,
) -> i32 {
    guard_with(WEFT_COUNT_ERROR, || {
        // SAFETY: pointer checked by `ptr`; validity is the caller's contract.
        let m = unsafe { ptr::get(model, "model") }?;
        let piece = tokenizer_of(m)?.token_to_piece(token)?;
        fill(piece.as_bytes(), buf.cast::<u8>(), buf_len, "buf")
    })
}
