//! Checked conversions of C arguments (pointers, lengths, strings) into Rust references.

use std::ffi::{CStr, c_char};

use crate::error::{Failure, FfiResult};
use crate::status::weft_status;

/// Largest element count accepted for a caller buffer. Anything above it is almost surely a
/// negative value cast to `size_t`, and a slice that long would be undefined behaviour anyway.
const MAX_LEN: usize = i32::MAX as usize;

fn null(name: &str) -> Failure {
    Failure::new(weft_status::WEFT_ERR_NULL_ARG, format!("`{name}` is NULL"))
}

fn check_len(n: usize, name: &str) -> FfiResult<()> {
    if n > MAX_LEN {
        return Err(Failure::invalid(format!(
            "`{name}` length {n} is out of range (a negative value cast to size_t?)"
        )));
    }
    Ok(())
}

fn check_align<T>(p: *const T, name: &str) -> FfiResult<()> {
    if !p.is_aligned() {
        return Err(Failure::invalid(format!("`{name}` is misaligned")));
    }
    Ok(())
}

/// `&*p`, or `WEFT_ERR_NULL_ARG` naming the argument.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nothing mutates for `'a`.
pub unsafe fn get<'a, T>(p: *const T, name: &str) -> FfiResult<&'a T> {
    check_align(p, name)?;
    // SAFETY: non-NULL and aligned; validity is the caller's contract.
    unsafe { p.as_ref() }.ok_or_else(|| null(name))
}

/// `&mut *p` for an out-parameter, or `WEFT_ERR_NULL_ARG`.
///
/// # Safety
/// `p` is NULL or points to writable memory for a `T` that nothing else uses for `'a`.
pub unsafe fn out<'a, T>(p: *mut T, name: &str) -> FfiResult<&'a mut T> {
    check_align(p, name)?;
    // SAFETY: as above.
    unsafe { p.as_mut() }.ok_or_else(|| null(name))
}

/// Writes `v` to an optional out-parameter (NULL = the caller does not want it).
///
/// # Safety
/// `p` is NULL or points to writable memory for a `T`.
pub unsafe fn put<T>(p: *mut T, v: T) {
    if !p.is_null() && p.is_aligned() {
        // SAFETY: non-NULL, aligned, writable by the caller's contract.
        unsafe { p.write(v) };
    }
}

/// A caller array of `n` elements; NULL is fine when `n` is 0.
///
/// # Safety
/// `p` is NULL or points to `n` readable `T`s that nothing mutates for `'a`.
pub unsafe fn slice<'a, T>(p: *const T, n: usize, name: &str) -> FfiResult<&'a [T]> {
    check_len(n, name)?;
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(name));
    }
    check_align(p, name)?;
    // SAFETY: non-NULL, aligned, `n` small enough; the caller guarantees `n` readable elements.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// A writable caller array of `n` elements; NULL is fine when `n` is 0.
///
/// # Safety
/// `p` is NULL or points to `n` writable `T`s that nothing else uses for `'a`.
pub unsafe fn slice_mut<'a, T>(p: *mut T, n: usize, name: &str) -> FfiResult<&'a mut [T]> {
    check_len(n, name)?;
    if n == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(null(name));
    }
    check_align(p, name)?;
    // SAFETY: as in `slice`, for writable memory.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, n) })
}

/// A NUL-terminated UTF-8 C string.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays alive and unchanged for `'a`.
pub unsafe fn c_str<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    utf8(bytes, name)
}

/// `bytes` as `&str`, or `WEFT_ERR_INVALID_UTF8` naming the argument and the offset.
pub fn utf8<'a>(bytes: &'a [u8], name: &str) -> FfiResult<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            weft_status::WEFT_ERR_INVALID_UTF8,
            format!(
                "`{name}` is not valid UTF-8 (byte offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// A caller's signed length (`int32_t`) as a count; negative is `WEFT_ERR_INVALID_ARG`.
pub fn count(n: i32, name: &str) -> FfiResult<usize> {
    usize::try_from(n).map_err(|_| Failure::invalid(format!("`{name}` is negative ({n})")))
}

/// Drops the boxed handle at `*slot` and sets it to NULL; NULL `slot` or `*slot` does nothing.
/// Leaves the thread's last error alone, so a caller can free handles before reading it.
///
/// # Safety
/// `slot` is NULL or the address of NULL or of a handle made by `Box::into_raw`, not yet freed.
pub unsafe fn free<T>(slot: *mut *mut T) {
    // A panic in a destructor must not unwind into C; there is nothing to report it to.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: by the function's contract.
        if let Some(slot) = unsafe { slot.as_mut() } {
            let p = std::mem::replace(slot, std::ptr::null_mut());
            if !p.is_null() {
                // SAFETY: `p` came from `Box::into_raw` and is freed exactly once (now NULL).
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }));
}
