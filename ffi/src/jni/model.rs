//! `dev.weft.Native` model, tokenizer and detokenizer natives.

use std::ffi::{CStr, c_char};
use std::path::Path;
use std::ptr::null_mut;

use jni::objects::{JClass, JObject, JString, JValue};
use jni::sys::{jboolean, jint, jlong};
use jni::{EnvUnowned, jni_sig, jni_str};

use super::{Fail, Res, ThrowWeft, check, from_handle, new_ids, new_string, to_handle};
use crate::error::Failure;
use crate::model::{LoadOptions, describe, load, weft_model};
use crate::status::weft_status;
use crate::{detok, text};

fn model_ref<'a>(h: jlong) -> Res<&'a weft_model> {
    // SAFETY: Java hands back handles from `modelLoad` until `close()` (Model.java guards it).
    unsafe { from_handle::<weft_model>(h).as_ref() }
        .ok_or_else(|| Failure::new(weft_status::WEFT_ERR_NULL_ARG, "model is closed").into())
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_version<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(crate::weft_version()) };
        new_string(env, &v.to_string_lossy())
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_modelLoad<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    path: JString<'local>,
    tokenizer: JString<'local>,
    prefault: jboolean,
    huge_pages: jboolean,
    listener: JObject<'local>,
) -> jlong {
    env.with_env(|env| -> Res<_> {
        if path.is_null() {
            return Err(Failure::new(weft_status::WEFT_ERR_NULL_ARG, "path is null").into());
        }
        let path = path.try_to_string(env)?;
        let tokenizer = if tokenizer.is_null() {
            None
        } else {
            Some(tokenizer.try_to_string(env)?)
        };
        // A Java exception from the listener aborts the load and stays pending.
        let mut java_error = None;
        let mut progress = |fraction: f32| {
            if listener.is_null() || java_error.is_some() {
                return java_error.is_none();
            }
            let r = env.call_method(
                &listener,
                jni_str!("onProgress"),
                jni_sig!("(F)Z"),
                &[JValue::Float(fraction)],
            );
            match r.and_then(|v| v.z()) {
                Ok(go_on) => go_on,
                Err(e) => {
                    java_error = Some(e);
                    false
                }
            }
        };
        let opts = LoadOptions {
            tokenizer: tokenizer.as_deref().map(Path::new),
            prefault,
            huge_pages,
            progress: &mut progress,
        };
        let loaded = load(Path::new(&path), opts);
        if let Some(e) = java_error {
            return Err(Fail::Jni(e));
        }
        Ok(to_handle(Box::into_raw(Box::new(loaded?))))
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_modelFree<'local>(
    _: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
) {
    let mut p = from_handle::<weft_model>(model);
    // SAFETY: Java frees each handle once (Model.close zeroes it); NULL is ignored.
    unsafe { crate::weft_model_free(&mut p) };
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_modelInfo<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
) -> jni::objects::JIntArray<'local> {
    env.with_env(|env| -> Res<_> {
        let d = describe(model_ref(model)?);
        let v = [
            d.n_vocab as i32,
            d.n_embd as i32,
            d.n_layer as i32,
            d.n_ctx as i32,
            d.bos_token,
            d.eos_token,
            d.has_tokenizer as i32,
            d.frame_size as i32,
            d.output_size as i32,
            d.accepts_tokens as i32,
            d.regression as i32,
        ];
        let array = env.new_int_array(v.len())?;
        array.set_region(env, 0, &v)?;
        Ok(array)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_modelArchitecture<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        let m = model_ref(model)?;
        new_string(env, &m.architecture.to_string_lossy())
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_modelName<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        let m = model_ref(model)?;
        new_string(env, &m.name.to_string_lossy())
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_modelFileSize<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
) -> jlong {
    env.with_env(|_| -> Res<_> { Ok(describe(model_ref(model)?).file_size as i64) })
        .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_tokenize<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
    text: JString<'local>,
    add_special: jboolean,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        if text.is_null() {
            return Err(Failure::new(weft_status::WEFT_ERR_NULL_ARG, "text is null").into());
        }
        let text = text.try_to_string(env)?;
        let m = from_handle::<weft_model>(model);
        let len =
            i32::try_from(text.len()).map_err(|_| Failure::invalid("text is longer than 2 GiB"))?;
        let ptr = text.as_ptr().cast::<c_char>();
        // Size query first, then the call that fills the buffer.
        // SAFETY: `text` outlives both calls; the buffer holds `need` ids.
        let need = unsafe { text::weft_tokenize(m, ptr, len, add_special, null_mut(), 0) };
        if need == text::WEFT_COUNT_ERROR {
            check(crate::weft_last_status())?;
        }
        let mut ids = vec![0u32; need.unsigned_abs() as usize];
        let cap = ids.len() as i32;
        let n = unsafe { text::weft_tokenize(m, ptr, len, add_special, ids.as_mut_ptr(), cap) };
        if n < 0 {
            check(crate::weft_last_status())?;
        }
        new_ids(env, &ids[..n.max(0) as usize])
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_tokenToPiece<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
    token: jint,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        let piece = text::tokenizer_of(model_ref(model)?)?.token_to_piece(token as u32);
        new_string(env, &piece.map_err(Failure::from)?)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_detokNew<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
    skip_special: jboolean,
) -> jlong {
    env.with_env(|_| -> Res<_> {
        let mut out = null_mut();
        // SAFETY: `model` is a live handle or 0 (refused); `out` is a local.
        check(unsafe { detok::weft_detokenizer_new(from_handle(model), skip_special, &mut out) })?;
        Ok(to_handle(out))
    })
    .resolve::<ThrowWeft>()
}

/// Runs `push` or `flush` and returns the piece as a Java string.
fn piece<'local>(
    env: &mut jni::Env<'local>,
    call: impl FnOnce(*mut *const c_char, *mut usize) -> weft_status,
) -> Res<JObject<'local>> {
    let mut text: *const c_char = std::ptr::null();
    let mut len = 0usize;
    check(call(&mut text, &mut len))?;
    // SAFETY: on success `text` points to `len` bytes of UTF-8, valid until the next call.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
    new_string(env, &String::from_utf8_lossy(bytes))
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_detokPush<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    detok: jlong,
    token: jint,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        piece(env, |t, n| unsafe {
            // SAFETY: Detokenizer.java serialises calls on a live handle (0 is refused).
            detok::weft_detokenizer_push(from_handle(detok), token as u32, t, n)
        })
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_detokFlush<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    detok: jlong,
) -> JObject<'local> {
    env.with_env(|env| -> Res<_> {
        piece(env, |t, n| unsafe {
            // SAFETY: as in `detokPush`.
            detok::weft_detokenizer_flush(from_handle(detok), t, n)
        })
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_detokFree<'local>(
    _: EnvUnowned<'local>,
    _: JClass<'local>,
    detok: jlong,
) {
    let mut p = from_handle::<detok::weft_detokenizer>(detok);
    // SAFETY: Java frees each handle once (Detokenizer.close zeroes it); NULL is ignored.
    unsafe { detok::weft_detokenizer_free(&mut p) };
}
