//! The no-allocation guarantee (DESIGN.md §2.1) holds through the C ABI: after
//! `weft_session_new`, stepping tokens and frames, prefilling, sampling, saving/restoring state
//! and resetting allocate nothing — the status bookkeeping and the session lock included.

use std::ffi::CString;
use std::path::Path;
use std::ptr::{null, null_mut};

use weft::convert::{ConvertOptions, OutType, convert_to_path};
use weft_ffi::*;

#[global_allocator]
static GLOBAL: weft_testkit::CountingAlloc = weft_testkit::CountingAlloc;

/// Allocations this thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    weft_testkit::alloc::count(f).0 as u64
}

#[test]
fn session_calls_do_not_allocate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let gguf = dir.path().join("model.gguf");
    convert_to_path(
        &root.join("tests/fixtures/zamba2_a"),
        &gguf,
        &ConvertOptions::new(OutType::F32),
    )
    .expect("fixture converts");
    let path = CString::new(gguf.to_str().expect("UTF-8 path")).expect("no NUL");

    let mut model = null_mut();
    let mut s = null_mut();
    unsafe {
        assert_eq!(
            weft_model_load(path.as_ptr(), null(), &mut model),
            weft_status::WEFT_OK
        );
        assert_eq!(
            weft_session_new(model, null(), &mut s),
            weft_status::WEFT_OK
        );
    }
    let greedy = weft_sampling_greedy_params();
    let frame = [0.01f32; 32];
    let prompt = [1u32, 5, 9, 200, 7];
    let mut blob = vec![0u8; unsafe { weft_session_state_size(s) }];
    let (blob_ptr, blob_len) = (blob.as_mut_ptr(), blob.len());
    let ok = weft_status::WEFT_OK;
    // Warm up once (first-touch lazies in the thread-locals), then count.
    let run = || unsafe {
        let (mut logits, mut n, mut t, mut pos) = (null(), 0usize, 0u32, 0u64);
        assert_eq!(
            weft_session_prefill(s, prompt.as_ptr(), 5, &mut logits, &mut n),
            ok
        );
        for _ in 0..20 {
            assert_eq!(weft_session_sample(s, &greedy, &mut t), ok);
            assert_eq!(weft_session_step_token(s, t, &mut logits, &mut n), ok);
            assert_eq!(
                weft_session_step_frame(s, frame.as_ptr(), 32, &mut logits, &mut n),
                ok
            );
        }
        assert_eq!(weft_session_save_state(s, blob_ptr, blob_len), ok);
        assert_eq!(weft_session_load_state(s, blob_ptr, blob_len), ok);
        assert_eq!(weft_session_position(s, &mut pos), ok);
        assert_eq!(weft_session_cancel(s), ok);
        assert_eq!(weft_session_reset(s), ok);
    };
    run();
    assert_eq!(
        allocations_in(run),
        0,
        "the C ABI allocated on the step path"
    );

    drop(blob);
    unsafe {
        weft_session_free(&mut s);
        weft_model_free(&mut model);
    }
    assert!(s.is_null() && model.is_null());
}
