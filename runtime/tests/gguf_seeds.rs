//! The fuzzer's seed files (`fuzz/seeds/`) are golden outputs of the writer: this test rebuilds
//! them and compares byte for byte, so a change in the writer's output is noticed. Run with
//! `WEFT_BLESS=1` to rewrite them after an intended change.

use std::path::PathBuf;

use weft::gguf::{GgmlType, Gguf, GgufWriter, MetaArray, MetaValue};

fn small_model() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_str("general.architecture", "mamba").unwrap();
    w.add_u32("mamba.block_count", 1).unwrap();
    w.add_f32("mamba.attention.layer_norm_rms_epsilon", 1e-5)
        .unwrap();
    w.add_str_array("tokenizer.ggml.tokens", &["<s>", "a"])
        .unwrap();
    w.add_i32_array("tokenizer.ggml.token_type", &[3, 1])
        .unwrap();
    w.add_tensor_f32("token_embd.weight", &[4, 2], &[0.5; 8])
        .unwrap();
    w.add_tensor("blk.0.ssm_in.weight", &[32, 2], GgmlType::Q8_0, vec![1; 68])
        .unwrap();
    w.add_tensor(
        "blk.0.ssm_d",
        &[3],
        GgmlType::F16,
        vec![0, 60, 0, 60, 0, 60],
    )
    .unwrap();
    w.into_bytes().unwrap()
}

fn every_type_aligned_64() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.set_alignment(64).unwrap();
    let values: [MetaValue; 13] = [
        MetaValue::U8(1),
        MetaValue::I8(-1),
        MetaValue::U16(2),
        MetaValue::I16(-2),
        MetaValue::U32(3),
        MetaValue::I32(-3),
        MetaValue::F32(0.25),
        MetaValue::Bool(true),
        "s".into(),
        vec![MetaArray::from(vec![1u8]), MetaArray::String(vec![])].into(),
        MetaValue::U64(4),
        MetaValue::I64(-4),
        MetaValue::F64(0.5),
    ];
    for (i, v) in values.into_iter().enumerate() {
        w.add_kv(&format!("k{i}"), v).unwrap();
    }
    w.add_tensor("q4", &[256], GgmlType::Q4_K, vec![2; 144])
        .unwrap();
    w.add_tensor("i8", &[3, 1, 1, 1], GgmlType::I8, vec![1, 2, 3])
        .unwrap();
    w.into_bytes().unwrap()
}

fn metadata_only() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_kv("general.name", "empty").unwrap();
    w.add_kv("x", MetaValue::from(Vec::<f64>::new())).unwrap();
    w.into_bytes().unwrap()
}

#[test]
fn fuzz_seeds_match_the_writer() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let seeds = [
        ("small_model.gguf", small_model()),
        ("every_type_aligned_64.gguf", every_type_aligned_64()),
        ("metadata_only.gguf", metadata_only()),
    ];
    for (name, bytes) in seeds {
        let g = Gguf::from_bytes(bytes.clone()).unwrap();
        assert!(!g.metadata().collect::<Vec<_>>().is_empty());
        let path = dir.join(name);
        if std::env::var_os("WEFT_BLESS").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let golden = std::fs::read(&path).unwrap();
        assert_eq!(
            golden, bytes,
            "{name} differs from the writer's output (WEFT_BLESS=1 to update)"
        );
    }
}
