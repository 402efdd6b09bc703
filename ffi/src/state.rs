//! Fixed-size state blobs: snapshot a session, restore it later (or into another session of the
//! same model and configuration).

use crate::error::{guard, guard_with};
use crate::ptr;
use crate::session::weft_session;
use crate::status::weft_status;

/// Bytes of this session's state blob (constant for its lifetime); 0 on error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_state_size(session: *mut weft_session) -> usize {
    guard_with(0, || {
        // SAFETY: pointer checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        Ok(s.lock()?.session.state_size())
    })
}

/// Writes the whole state (recurrent state, KV rings, last logits, RNG, history) into `buf`, which
/// must hold exactly `weft_session_state_size()` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_save_state(
    session: *mut weft_session,
    buf: *mut u8,
    len: usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let buf = unsafe { ptr::slice_mut(buf, len, "buf") }?;
        s.lock()?.session.save_state(buf)?;
        Ok(())
    })
}

/// Restores a blob from `weft_session_save_state`. The blob is checked (size, magic, version,
/// model, session configuration) before anything changes: a rejected blob (`WEFT_ERR_STATE`)
/// leaves the session as it was.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn weft_session_load_state(
    session: *mut weft_session,
    buf: *const u8,
    len: usize,
) -> weft_status {
    guard(|| {
        // SAFETY: pointers checked by `ptr`; validity is the caller's contract.
        let s = unsafe { ptr::get(session, "session") }?;
        let buf = unsafe { ptr::slice(buf, len, "buf") }?;
        s.lock()?.session.load_state(buf)?;
        Ok(())
    })
}
