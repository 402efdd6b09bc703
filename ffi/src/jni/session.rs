//! `dev.weft.Native` session natives: parameters, stepping (tokens and direct-buffer frames),
//! sampling, generate with a Java callback, cancel, state.

use std::ptr::{null, null_mut};

use jni::objects::{JByteArray, JByteBuffer, JClass, JFloatArray, JIntArray, JObject, JValue};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned, jni_sig, jni_str};

use super::{Fail, Res, ThrowWeft, check, from_handle, read_ids, to_handle};
use crate::error::Failure;
use crate::params::{
    WEFT_KV_F16, WEFT_KV_F32, weft_sampling_default_params, weft_sampling_greedy_params,
    weft_sampling_params, weft_session_default_params, weft_session_params,
};
use crate::session::weft_session;
use crate::status::weft_status;

fn session_ref<'a>(h: jlong) -> Res<&'a weft_session> {
    // SAFETY: Java hands back handles from `sessionNew` until `close()` (Session.java guards it).
    unsafe { from_handle::<weft_session>(h).as_ref() }
        .ok_or_else(|| Failure::new(weft_status::WEFT_ERR_NULL_ARG, "session is closed").into())
}

fn sampling(env: &Env<'_>, array: &JFloatArray<'_>) -> Res<weft_sampling_params> {
    let mut v = [0f32; 6];
    array.get_region(env, 0, &mut v)?;
    Ok(weft_sampling_params {
        temperature: v[0],
        top_k: v[1] as u32,
        top_p: v[2],
        min_p: v[3],
        repetition_penalty: v[4],
        repeat_last_n: v[5] as u32,
        ..weft_sampling_default_params()
    })
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionDefaults<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
) -> JIntArray<'local> {
    env.with_env(|env| -> Res<_> {
        let p = weft_session_default_params();
        let v = [
            p.kv_window,
            p.kv_sinks,
            p.prefill_chunk,
            p.threads,
            p.history,
            p.int8_activations as u32,
            (p.kv_type == WEFT_KV_F16) as u32,
        ]
        .map(|x| x as i32);
        let array = env.new_int_array(v.len())?;
        array.set_region(env, 0, &v)?;
        Ok(array)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_samplingDefaults<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    greedy: jboolean,
) -> JFloatArray<'local> {
    env.with_env(|env| -> Res<_> {
        let p = if greedy {
            weft_sampling_greedy_params()
        } else {
            weft_sampling_default_params()
        };
        let v = [
            p.temperature,
            p.top_k as f32,
            p.top_p,
            p.min_p,
            p.repetition_penalty,
            p.repeat_last_n as f32,
        ];
        let array = env.new_float_array(v.len())?;
        array.set_region(env, 0, &v)?;
        Ok(array)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionNew<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    model: jlong,
    params: JIntArray<'local>,
) -> jlong {
    env.with_env(|env| -> Res<_> {
        let mut v = [0i32; 7];
        params.get_region(env, 0, &mut v)?;
        let p = weft_session_params {
            kv_window: v[0] as u32,
            kv_sinks: v[1] as u32,
            prefill_chunk: v[2] as u32,
            threads: v[3] as u32,
            history: v[4] as u32,
            int8_activations: v[5] != 0,
            kv_type: if v[6] != 0 { WEFT_KV_F16 } else { WEFT_KV_F32 },
            ..weft_session_default_params()
        };
        let mut out = null_mut();
        // SAFETY: `model` is a live handle or 0 (refused); `p` and `out` are locals.
        check(unsafe { crate::weft_session_new(from_handle(model), &p, &mut out) })?;
        Ok(to_handle(out))
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionFree<'local>(
    _: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
) {
    let mut p = from_handle::<weft_session>(session);
    // SAFETY: Java frees each handle once (Session.close zeroes it); NULL is ignored.
    unsafe { crate::weft_session_free(&mut p) };
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionPrefill<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    tokens: JIntArray<'local>,
) {
    env.with_env(|env| -> Res<_> {
        let ids = read_ids(env, &tokens)?;
        let s = from_handle(session);
        // SAFETY: a live handle or 0 (refused); `ids` outlives the call.
        check(unsafe {
            crate::weft_session_prefill(s, ids.as_ptr(), ids.len(), null_mut(), null_mut())
        })
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionStep<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    token: jint,
) {
    env.with_env(|_| -> Res<_> {
        let s = from_handle(session);
        // SAFETY: a live handle or 0 (refused).
        check(unsafe { crate::weft_session_step_token(s, token as u32, null_mut(), null_mut()) })
    })
    .resolve::<ThrowWeft>()
}

/// `[pos, pos + len)` floats of a direct buffer (any `java.nio.Buffer`; JNI does not care which).
fn direct(env: &Env<'_>, buf: &JByteBuffer<'_>, pos: jint, len: jint, name: &str) -> Res<*mut f32> {
    let base = env.get_direct_buffer_address(buf)?;
    let cap = env.get_direct_buffer_capacity(buf)?;
    let (pos, len) = (pos.max(0) as usize, len.max(0) as usize);
    if pos + len > cap {
        return Err(
            Failure::invalid(format!("{name}: {pos} + {len} floats exceed the buffer")).into(),
        );
    }
    // Capacity counts elements of the buffer's type: floats here (Session.java checks the type).
    Ok(base.cast::<f32>().wrapping_add(pos))
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // the JNI signature of Native.sessionStepFrame
pub extern "system" fn Java_dev_weft_Native_sessionStepFrame<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    frame: JByteBuffer<'local>,
    frame_pos: jint,
    frame_len: jint,
    out: JByteBuffer<'local>,
    out_pos: jint,
    out_len: jint,
) {
    env.with_env(|env| -> Res<_> {
        let f = direct(env, &frame, frame_pos, frame_len, "frame")?;
        let s = from_handle(session);
        let (mut logits, mut n) = (null::<f32>(), 0usize);
        // SAFETY: `frame_len` floats readable at `f` (checked against the capacity); the C ABI
        // checks `frame_len` against the model before reading.
        check(unsafe {
            crate::weft_session_step_frame(s, f, frame_len.max(0) as usize, &mut logits, &mut n)
        })?;
        if !out.is_null() {
            let o = direct(env, &out, out_pos, out_len, "out")?;
            let m = n.min(out_len.max(0) as usize);
            // SAFETY: `logits` has `n` floats until the next session call; `o` has room for
            // `out_len` ≥ `m`; the Java buffer and the session's memory never overlap.
            unsafe { std::ptr::copy_nonoverlapping(logits, o, m) };
        }
        Ok(())
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionLogits<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    out: JFloatArray<'local>,
) {
    env.with_env(|env| -> Res<_> {
        let s = session_ref(session)?;
        let inner = s.lock()?;
        let logits = inner
            .session
            .logits()
            .ok_or(weft::SessionError::NoLogits)
            .map_err(Failure::from)?;
        let n = out.len(env)?;
        if n < logits.len() {
            let msg = format!("out holds {n} floats, {} are needed", logits.len());
            return Err(Failure::new(weft_status::WEFT_ERR_BUFFER_TOO_SMALL, msg).into());
        }
        out.set_region(env, 0, logits)?;
        Ok(())
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionSample<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    params: JFloatArray<'local>,
) -> jint {
    env.with_env(|env| -> Res<_> {
        let p = sampling(env, &params)?;
        let mut token = 0u32;
        // SAFETY: a live handle or 0 (refused); `p` and `token` are locals.
        check(unsafe { crate::weft_session_sample(from_handle(session), &p, &mut token) })?;
        Ok(token as i32)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionGenerate<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    prompt: JIntArray<'local>,
    params: JFloatArray<'local>,
    max_tokens: jint,
    callback: JObject<'local>,
) -> jint {
    env.with_env(|env| -> Res<_> {
        let s = session_ref(session)?;
        let prompt = read_ids(env, &prompt)?;
        let config = sampling(env, &params)?.to_config()?;
        let mut count = 0;
        let mut java_error = None;
        let result = crate::generate::run(
            s,
            &prompt,
            &config,
            max_tokens.max(0) as usize,
            |token, piece| {
                count += 1;
                if callback.is_null() {
                    return true;
                }
                // One local frame per token, so long generations do not pile up local references.
                let r = env.with_local_frame(4, |env| -> jni::errors::Result<bool> {
                    let text = env.new_string(String::from_utf8_lossy(piece))?;
                    env.call_method(
                        &callback,
                        jni_str!("onToken"),
                        jni_sig!("(ILjava/lang/String;)Z"),
                        &[JValue::Int(token as i32), JValue::Object(&text)],
                    )?
                    .z()
                });
                r.unwrap_or_else(|e| {
                    java_error = Some(e);
                    false
                })
            },
        );
        if let Some(e) = java_error {
            return Err(Fail::Jni(e));
        }
        result?;
        Ok(count)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionSetSeed<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    seed: jlong,
) {
    env.with_env(|_| -> Res<_> {
        // SAFETY: a live handle or 0 (refused).
        check(unsafe { crate::weft_session_set_seed(from_handle(session), seed as u64) })
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionCancel<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
) {
    env.with_env(|_| -> Res<_> {
        // SAFETY: Session.java holds its cancel lock, so the handle is live (or 0, refused).
        check(unsafe { crate::weft_session_cancel(from_handle(session)) })
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionReset<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
) {
    env.with_env(|_| -> Res<_> {
        // SAFETY: a live handle or 0 (refused).
        check(unsafe { crate::weft_session_reset(from_handle(session)) })
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionPosition<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
) -> jlong {
    env.with_env(|_| -> Res<_> {
        let mut pos = 0u64;
        // SAFETY: a live handle or 0 (refused).
        check(unsafe { crate::weft_session_position(from_handle(session), &mut pos) })?;
        Ok(pos as i64)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionStateSize<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
) -> jint {
    env.with_env(|_| -> Res<_> {
        let n = session_ref(session)?.lock()?.session.state_size();
        i32::try_from(n).map_err(|_| Failure::invalid("state is larger than 2 GiB").into())
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionSaveState<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
) -> JByteArray<'local> {
    env.with_env(|env| -> Res<_> {
        let inner = session_ref(session)?.lock()?;
        let mut blob = vec![0u8; inner.session.state_size()];
        inner.session.save_state(&mut blob).map_err(Failure::from)?;
        Ok(env.byte_array_from_slice(&blob)?)
    })
    .resolve::<ThrowWeft>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_weft_Native_sessionLoadState<'local>(
    mut env: EnvUnowned<'local>,
    _: JClass<'local>,
    session: jlong,
    state: JByteArray<'local>,
) {
    env.with_env(|env| -> Res<_> {
        if state.is_null() {
            return Err(Failure::new(weft_status::WEFT_ERR_NULL_ARG, "state is null").into());
        }
        let blob = env.convert_byte_array(&state)?;
        // SAFETY: a live handle or 0 (refused); `blob` outlives the call.
        check(unsafe {
            crate::weft_session_load_state(from_handle(session), blob.as_ptr(), blob.len())
        })
    })
    .resolve::<ThrowWeft>()
}
