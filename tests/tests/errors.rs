//! Malformed input is a typed error, never a panic, and leaves the session as it was.

use weft::convert::OutType;
use weft::gguf::{GgmlType, Gguf, MetaValue};
use weft::{Input, Model, ModelError, SessionConfig, SessionError};
use weft_tests::{gguf_bytes, load, rewrite, same};

fn load_err(bytes: Vec<u8>) -> ModelError {
    Model::from_gguf(Gguf::from_bytes(bytes).unwrap()).expect_err("model must be rejected")
}

fn mamba2_a() -> Gguf {
    Gguf::from_bytes(gguf_bytes("mamba2_a", OutType::F32)).unwrap()
}

#[test]
fn bad_models_are_rejected_with_the_reason() {
    let src = mamba2_a();
    let keep = |_: &str, v: &MetaValue| Some(v.clone());

    let arch = |k: &str, v: &MetaValue| {
        Some(if k == "general.architecture" {
            MetaValue::String("rwkv6".into())
        } else {
            v.clone()
        })
    };
    assert!(
        matches!(load_err(rewrite(&src, arch, same, &[])), ModelError::UnsupportedArchitecture(a) if a == "rwkv6")
    );

    let no_groups = |k: &str, v: &MetaValue| (k != "mamba2.ssm.group_count").then(|| v.clone());
    assert!(
        matches!(load_err(rewrite(&src, no_groups, same, &[])), ModelError::MissingKey(k) if k == "mamba2.ssm.group_count")
    );

    let three_groups = |k: &str, v: &MetaValue| {
        Some(if k == "mamba2.ssm.group_count" {
            MetaValue::U32(3)
        } else {
            v.clone()
        })
    };
    assert!(matches!(
        load_err(rewrite(&src, three_groups, same, &[])),
        ModelError::InvalidConfig(_)
    ));

    let text_layers = |k: &str, v: &MetaValue| {
        Some(if k == "mamba2.block_count" {
            MetaValue::String("3".into())
        } else {
            v.clone()
        })
    };
    assert!(matches!(
        load_err(rewrite(&src, text_layers, same, &[])),
        ModelError::Gguf(_)
    ));

    let dropped = rewrite(
        &src,
        keep,
        |i, b| {
            (i.name != "blk.1.ssm_out.weight")
                .then(|| same(i, b))
                .flatten()
        },
        &[],
    );
    assert!(
        matches!(load_err(dropped), ModelError::MissingTensor(n) if n == "blk.1.ssm_out.weight")
    );

    let transposed = rewrite(
        &src,
        keep,
        |i, b| {
            let mut t = same(i, b)?;
            if i.name == "blk.0.ssm_out.weight" {
                t.0.reverse();
            }
            Some(t)
        },
        &[],
    );
    match load_err(transposed) {
        ModelError::TensorShape {
            name,
            expected,
            found,
        } => {
            assert_eq!(
                (name.as_str(), expected, found),
                ("blk.0.ssm_out.weight", vec![128, 64], vec![64, 128])
            );
        }
        e => panic!("expected TensorShape, got {e:?}"),
    }

    let q4_1 = rewrite(
        &src,
        keep,
        |i, b| {
            if i.name != "blk.2.ssm_in.weight" {
                return same(i, b);
            }
            let bytes = GgmlType::Q4_1.row_bytes(i.dims[0] as usize).unwrap() * i.dims[1] as usize;
            Some((i.dims.clone(), GgmlType::Q4_1, vec![0; bytes]))
        },
        &[],
    );
    assert!(
        matches!(load_err(q4_1), ModelError::UnsupportedType { tensor, ty: GgmlType::Q4_1 } if tensor == "blk.2.ssm_in.weight")
    );

    assert!(Gguf::from_bytes(b"not a gguf file at all".to_vec()).is_err());
}

#[test]
fn bad_session_inputs_are_typed_errors_and_change_nothing() {
    let model = load("mamba2_a", OutType::F32);
    let vocab = model.config().n_vocab as u32;
    let mut s = model.session(SessionConfig::default()).unwrap();
    assert!(matches!(
        s.sample(&Default::default()),
        Err(SessionError::NoLogits)
    ));
    s.prefill(&[1, 2, 3]).unwrap();
    let before = s.logits().unwrap().to_vec();

    assert!(
        matches!(s.step(Input::Token(vocab)), Err(SessionError::TokenOutOfRange { token, vocab: v }) if token == vocab && v == vocab as usize)
    );
    assert!(matches!(
        s.prefill(&[4, vocab + 7, 5]),
        Err(SessionError::TokenOutOfRange { .. })
    ));
    assert!(matches!(s.prefill(&[]), Err(SessionError::EmptyPrompt)));
    let short = vec![0.0; model.config().n_embd - 1];
    assert!(matches!(
        s.step(Input::Frame(&short)),
        Err(SessionError::FrameLength {
            expected: 64,
            found: 63
        })
    ));
    assert!(matches!(
        s.prefill_all(&[1], &mut [0.0; 256]),
        Err(SessionError::LogitsAllDisabled)
    ));
    assert_eq!(s.position(), 3, "failed calls consume nothing");
    assert!(s.logits().unwrap() == before.as_slice());

    let mut all = model
        .session(SessionConfig {
            logits_all: true,
            ..SessionConfig::default()
        })
        .unwrap();
    assert!(matches!(
        all.prefill_all(&[1, 2], &mut [0.0; 10]),
        Err(SessionError::OutputSize {
            expected: 512,
            found: 10
        })
    ));
    assert!(matches!(
        model.session(SessionConfig {
            kv_window: 0,
            ..SessionConfig::default()
        }),
        Err(SessionError::InvalidConfig(_))
    ));
}

#[test]
fn bad_state_blobs_are_rejected_before_anything_is_loaded() {
    let model = load("mamba2_a", OutType::F32);
    let mut s = model.session(SessionConfig::default()).unwrap();
    s.prefill(&[5, 6, 7]).unwrap();
    let mut blob = vec![0u8; s.state_size()];
    s.save_state(&mut blob).unwrap();
    s.step(Input::Token(9)).unwrap();
    let after = s.logits().unwrap().to_vec();

    let corrupt = |at: usize, value: u8| {
        let mut b = blob.clone();
        b[at] = value;
        b
    };
    let expect = |s: &mut weft::Session, bytes: &[u8], check: fn(&SessionError) -> bool| {
        let e = s.load_state(bytes).expect_err("blob must be rejected");
        assert!(check(&e), "unexpected error {e:?}");
        assert_eq!(s.position(), 4, "session unchanged");
        assert!(s.logits().unwrap() == after.as_slice());
    };
    expect(&mut s, &blob[..blob.len() - 1], |e| {
        matches!(e, SessionError::StateSize { .. })
    });
    expect(&mut s, &[blob.clone(), vec![0]].concat(), |e| {
        matches!(e, SessionError::StateSize { .. })
    });
    expect(&mut s, &blob[..10], |e| {
        matches!(e, SessionError::StateSize { .. })
    });
    expect(&mut s, &corrupt(0, b'X'), |e| {
        matches!(e, SessionError::StateMagic)
    });
    expect(&mut s, &corrupt(8, 99), |e| {
        matches!(
            e,
            SessionError::StateVersion {
                expected: 1,
                found: 99
            }
        )
    });
    expect(&mut s, &corrupt(16, blob[16] ^ 1), |e| {
        matches!(e, SessionError::StateModel)
    });
    expect(&mut s, &corrupt(24, blob[24] ^ 1), |e| {
        matches!(e, SessionError::StateSessionConfig)
    });

    // A blob of another model, and of another window, into this session.
    let other = load("mamba2_b", OutType::F32);
    let mut o = other.session(SessionConfig::default()).unwrap();
    o.prefill(&[1]).unwrap();
    let mut other_blob = vec![0u8; o.state_size()];
    o.save_state(&mut other_blob).unwrap();
    expect(&mut s, &other_blob, |e| {
        matches!(e, SessionError::StateModel | SessionError::StateSize { .. })
    });
    let llama = load("llama_a", OutType::F32);
    let w = llama
        .session(SessionConfig {
            kv_window: 16,
            ..SessionConfig::default()
        })
        .unwrap();
    let mut window_blob = vec![0u8; w.state_size()];
    w.save_state(&mut window_blob).unwrap();
    let mut l = llama
        .session(SessionConfig {
            kv_window: 32,
            ..SessionConfig::default()
        })
        .unwrap();
    assert!(matches!(
        l.load_state(&window_blob),
        Err(SessionError::StateSessionConfig)
    ));
    assert!(matches!(
        s.save_state(&mut [0u8; 3]),
        Err(SessionError::StateSize { .. })
    ));

    s.load_state(&blob).unwrap();
    assert_eq!(s.position(), 3);
}
