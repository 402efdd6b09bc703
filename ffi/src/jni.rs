//! Java bindings (feature `jni`): the natives of `dev.weft.Native` (ffi/java). They call the C
//! ABI, so Java sees exactly the C behaviour; a failed call throws `dev.weft.WeftException`
//! carrying the status and the message.

mod model;
mod session;

use std::ffi::CStr;

use jni::errors::{Error as JniError, ErrorPolicy};
use jni::objects::{JIntArray, JObject, JValue};
use jni::{Env, jni_sig, jni_str};

use crate::error::Failure;
use crate::status::weft_status;

/// Why a native call failed: weft said no, or JNI did (a Java exception may be pending).
#[derive(Debug)]
pub enum Fail {
    Weft(Failure),
    Jni(JniError),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Weft(e) => f.write_str(&e.message),
            Fail::Jni(e) => write!(f, "JNI: {e}"),
        }
    }
}

impl std::error::Error for Fail {}

impl From<JniError> for Fail {
    fn from(e: JniError) -> Self {
        Fail::Jni(e)
    }
}

impl From<Failure> for Fail {
    fn from(e: Failure) -> Self {
        Fail::Weft(e)
    }
}

pub type Res<T> = Result<T, Fail>;

/// A C ABI status as a result, with the thread's last error message.
pub fn check(status: weft_status) -> Res<()> {
    if status == weft_status::WEFT_OK {
        return Ok(());
    }
    // SAFETY: `weft_last_error` returns a NUL-terminated string that lives until the next call.
    let message = unsafe { CStr::from_ptr(crate::weft_last_error()) };
    Err(Failure::new(status, message.to_string_lossy()).into())
}

/// Throws `dev.weft.WeftException(status, message)`; unless a Java exception is already pending
/// (e.g. thrown by a callback), which then propagates as it is.
pub struct ThrowWeft;

fn throw(env: &mut Env<'_>, status: weft_status, message: &str) -> jni::errors::Result<()> {
    if env.exception_check() {
        return Ok(());
    }
    let msg = env.new_string(message)?;
    let ex = env.new_object(
        jni_str!("dev/weft/WeftException"),
        jni_sig!("(ILjava/lang/String;)V"),
        &[JValue::Int(status as i32), JValue::Object(&msg)],
    )?;
    let ex = env.cast_local::<jni::objects::JThrowable>(ex)?;
    match env.throw(ex) {
        Ok(()) | Err(JniError::JavaException) => Ok(()),
        Err(e) => Err(e),
    }
}

impl<T: Default> ErrorPolicy<T, Fail> for ThrowWeft {
    type Captures<'local: 'native, 'native> = ();

    fn on_error<'local: 'native, 'native>(
        env: &mut Env<'local>,
        _: &mut (),
        err: Fail,
    ) -> jni::errors::Result<T> {
        match err {
            Fail::Weft(f) => throw(env, f.status, &f.message)?,
            Fail::Jni(e) => throw(env, weft_status::WEFT_ERR_INTERNAL, &format!("JNI: {e}"))?,
        }
        Ok(T::default())
    }

    fn on_panic<'local: 'native, 'native>(
        env: &mut Env<'local>,
        _: &mut (),
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown panic");
        let message = format!("internal error (please report): {what}");
        throw(env, weft_status::WEFT_ERR_INTERNAL, &message)?;
        Ok(T::default())
    }
}

/// A handle passed to Java as a `long`.
pub fn to_handle<T>(p: *mut T) -> i64 {
    p as usize as i64
}

/// A `long` from Java back to a pointer (0 becomes NULL, which the C ABI refuses).
pub fn from_handle<T>(h: i64) -> *mut T {
    h as usize as *mut T
}

/// A Java `int[]` of token ids.
pub fn read_ids(env: &Env<'_>, array: &JIntArray<'_>) -> Res<Vec<u32>> {
    if array.is_null() {
        return Err(Failure::new(weft_status::WEFT_ERR_NULL_ARG, "token array is null").into());
    }
    let n = array.len(env)?;
    let mut ids = vec![0i32; n];
    array.get_region(env, 0, &mut ids)?;
    Ok(ids.into_iter().map(|t| t as u32).collect())
}

/// A new Java `int[]` of token ids, as the `Object` a native returns.
pub fn new_ids<'local>(env: &mut Env<'local>, ids: &[u32]) -> Res<JObject<'local>> {
    let array = env.new_int_array(ids.len())?;
    let ints: Vec<i32> = ids.iter().map(|&t| t as i32).collect();
    array.set_region(env, 0, &ints)?;
    Ok(array.into())
}

/// A new Java `String`, as the `Object` a native returns.
pub fn new_string<'local>(env: &mut Env<'local>, s: &str) -> Res<JObject<'local>> {
    Ok(env.new_string(s)?.into())
}
