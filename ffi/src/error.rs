//! The thread-local last error, and [`guard`]: the panic-catching wrapper of every entry point.

use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::status::weft_status;

/// Why a call failed: the status it returns and the message `weft_last_error` shows.
#[derive(Debug)]
pub struct Failure {
    pub status: weft_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: weft_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Failure::new(weft_status::WEFT_ERR_INVALID_ARG, message)
    }
}

pub type FfiResult<T = ()> = Result<T, Failure>;

struct Last {
    status: weft_status,
    /// Message + NUL; empty after a successful call.
    message: Vec<u8>,
}

thread_local! {
    // Const-initialised so that touching it on the hot path (clearing after a success) never
    // allocates: the no-allocation guarantee of step/sample extends through the C ABI.
    static LAST: RefCell<Last> = const {
        RefCell::new(Last { status: weft_status::WEFT_OK, message: Vec::new() })
    };
}

fn record(status: weft_status, message: &str) {
    LAST.with_borrow_mut(|last| {
        last.status = status;
        last.message.clear();
        if status != weft_status::WEFT_OK {
            // An interior NUL would cut the C string short; show it instead.
            last.message
                .extend(message.bytes().map(|b| if b == 0 { b'?' } else { b }));
            last.message.push(0);
        }
    });
}

/// Runs an entry point's body: catches panics and records the outcome for `weft_last_error`.
fn run<T>(body: impl FnOnce() -> FfiResult<T>) -> Result<T, weft_status> {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => {
            record(weft_status::WEFT_OK, "");
            return Ok(value);
        }
        Ok(Err(f)) => f,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("unknown panic");
            Failure::new(
                weft_status::WEFT_ERR_INTERNAL,
                format!("internal error (please report): {what}"),
            )
        }
    };
    record(failure.status, &failure.message);
    Err(failure.status)
}

/// [`run`] for bodies that return a status.
pub fn guard(body: impl FnOnce() -> FfiResult) -> weft_status {
    match run(body) {
        Ok(()) => weft_status::WEFT_OK,
        Err(status) => status,
    }
}

/// [`run`] for bodies that return a value; `on_error` is what C sees when the body fails.
pub fn guard_with<T>(on_error: T, body: impl FnOnce() -> FfiResult<T>) -> T {
    run(body).unwrap_or(on_error)
}

fn last_status() -> weft_status {
    LAST.with_borrow(|last| last.status)
}

/// Message of the last failed weft call on this thread, or "" if the last call succeeded.
/// Never NULL. Valid until the next weft call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn weft_last_error() -> *const c_char {
    let p = catch_unwind(|| {
        LAST.with_borrow(|last| {
            if last.message.is_empty() {
                c"".as_ptr()
            } else {
                last.message.as_ptr().cast()
            }
        })
    });
    p.unwrap_or(c"".as_ptr())
}

/// Status of the last weft call on this thread (useful after calls that return a count).
#[unsafe(no_mangle)]
pub extern "C" fn weft_last_status() -> weft_status {
    catch_unwind(last_status).unwrap_or(weft_status::WEFT_ERR_INTERNAL)
}
