//! Variants of the supported architectures found in llama.cpp files.

use weft::convert::OutType;
use weft::gguf::{Gguf, MetaValue};
use weft::parity::decode_logits;
use weft::{Model, ModelError};
use weft_tests::{
    Rng, gguf_bytes, max_rel_rows, model_from_bytes, rewrite, same, with_extra_tensors,
};

fn keep(_: &str, v: &MetaValue) -> Option<MetaValue> {
    Some(v.clone())
}

/// Falcon-Mamba (`mamba.ssm.dt_b_c_rms`) normalises dt, B and C without weights: the same as
/// Jamba-style norms whose weights are all ones, and different from plain Mamba-1.
#[test]
fn falcon_mamba_weightless_dt_b_c_norms() {
    let bytes = gguf_bytes("mamba1_a", OutType::F32);
    let src = Gguf::from_bytes(bytes.clone()).unwrap();
    let flag = |k: &str, v: &MetaValue| {
        Some(match k {
            "mamba.ssm.dt_b_c_rms" => MetaValue::Bool(true),
            _ => v.clone(),
        })
    };
    assert_eq!(src.opt_bool("mamba.ssm.dt_b_c_rms").unwrap(), Some(false));
    let flagged = rewrite(&src, flag, same, &[]);
    let (r, n) = (
        src.get_u32("mamba.ssm.time_step_rank").unwrap() as usize,
        src.get_u32("mamba.ssm.state_size").unwrap() as usize,
    );
    let unit_norms: Vec<_> = (0..src.get_u32("mamba.block_count").unwrap())
        .flat_map(|l| {
            [("ssm_dt_norm", r), ("ssm_b_norm", n), ("ssm_c_norm", n)].map(|(t, len)| {
                (
                    format!("blk.{l}.{t}.weight"),
                    vec![len as u64],
                    vec![1.0; len],
                )
            })
        })
        .collect();
    let ones = with_extra_tensors(&src, &unit_norms);

    let (plain, flagged, ones) = (
        model_from_bytes(bytes),
        model_from_bytes(flagged),
        model_from_bytes(ones),
    );
    let (tokens, v) = (
        Rng(4).tokens(12, plain.config().n_vocab),
        plain.config().n_vocab,
    );
    let run = |m| decode_logits(m, &tokens).unwrap();
    let (p, f, o) = (run(&plain), run(&flagged), run(&ones));
    assert_eq!(f, o, "weightless norms == unit-weight norms");
    assert!(max_rel_rows(&f, &p, v) > 1e-2, "the norms change the model");
}

/// Scaled RoPE would silently give wrong logits; such files are refused.
#[test]
fn llama_with_rope_scaling_is_refused() {
    let src = Gguf::from_bytes(gguf_bytes("llama_a", OutType::F32)).unwrap();
    let yarn = rewrite(
        &src,
        keep,
        same,
        &[("llama.rope.scaling.type", MetaValue::String("yarn".into()))],
    );
    let err = Model::from_gguf(Gguf::from_bytes(yarn).unwrap()).unwrap_err();
    assert!(
        matches!(&err, ModelError::InvalidConfig(m) if m.contains("yarn")),
        "{err}"
    );
    let freqs = with_extra_tensors(&src, &[("rope_freqs.weight".into(), vec![8], vec![1.0; 8])]);
    let err = Model::from_gguf(Gguf::from_bytes(freqs).unwrap()).unwrap_err();
    assert!(matches!(err, ModelError::InvalidConfig(_)), "{err}");
}

#[test]
fn models_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Model>();
    let model = weft_tests::load("mamba2_b", OutType::F32);
    let tokens = Rng(2).tokens(8, model.config().n_vocab);
    let expected = decode_logits(&model, &tokens).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (m, t) = (model.clone(), tokens.clone());
            std::thread::spawn(move || decode_logits(&m, &t).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}
