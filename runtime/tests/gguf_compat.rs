//! Compatibility with the reference implementation: `fuzz/seeds/gguf_py_mamba2.gguf` was written
//! by gguf-py 0.19.0 (llama.cpp's Python GGUF library). weft must read it, and `GgufWriter` must
//! reproduce it byte for byte from the same content, which pins the header layout, the value
//! encodings, the tensor-info order, the offsets and all padding to llama.cpp's conventions.

use weft::gguf::{GgmlType, Gguf, GgufWriter, MetaArray, MetaValue};

const GGUF_PY: &[u8] = include_bytes!("../../fuzz/seeds/gguf_py_mamba2.gguf");

#[test]
fn reads_a_gguf_py_file() {
    let g = Gguf::from_bytes(GGUF_PY.to_vec()).unwrap();
    assert_eq!((g.version(), g.alignment(), g.data_offset()), (3, 32, 736));
    assert_eq!(g.get_str("general.architecture").unwrap(), "mamba2");
    assert_eq!(g.get_u32("mamba2.block_count").unwrap(), 2);
    assert_eq!(g.get_u32("mamba2.context_length").unwrap(), 1 << 20);
    assert_eq!(
        g.get_f32("mamba2.attention.layer_norm_rms_epsilon")
            .unwrap(),
        1e-5
    );
    assert!(g.get_bool("x.flag").unwrap());
    assert_eq!(g.get_i64("x.i64").unwrap(), -7);
    assert_eq!(g.get_f32("x.f64").unwrap(), 2.5);
    // gguf-py stores Python int lists as i32 arrays.
    assert_eq!(g.get("x.per_layer"), Some(&MetaValue::from(vec![0i32, 8])));
    assert_eq!(g.get_u32_array("x.per_layer").unwrap(), [0, 8]);
    assert_eq!(
        g.get("x.nested"),
        Some(&MetaValue::from(vec![
            MetaArray::from(vec![1i32, 2]),
            MetaArray::from(vec![3i32])
        ]))
    );
    assert_eq!(
        g.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["<s>", "hello", "Ġworld"]
    );
    assert_eq!(
        g.get_f32_array("tokenizer.ggml.scores").unwrap(),
        [0.0, -1.5, -2.0]
    );

    let names: Vec<_> = g
        .tensors()
        .iter()
        .map(|t| (t.name.as_str(), t.ty, t.dims.clone(), t.offset))
        .collect();
    assert_eq!(
        names,
        [
            ("token_embd.weight", GgmlType::F32, vec![4, 3], 0),
            ("output_norm.weight", GgmlType::F16, vec![3], 64),
            ("blk.0.ssm_in.weight", GgmlType::Q8_0, vec![32, 2], 96),
        ]
    );
    let embd: Vec<f32> = (0..12).map(|i| i as f32).collect();
    assert_eq!(g.tensor_f32("token_embd.weight").unwrap(), &embd[..]);
    // f16 1.0, 0.5, -2.0
    assert_eq!(
        g.tensor_data("output_norm.weight").unwrap(),
        [0x00, 0x3c, 0x00, 0x38, 0x00, 0xc0]
    );
    let q = g.tensor_data("blk.0.ssm_in.weight").unwrap();
    assert_eq!(q, (0..68u8).collect::<Vec<_>>());
}

#[test]
fn writer_reproduces_gguf_py_byte_for_byte() {
    let mut w = GgufWriter::new();
    w.add_str("general.architecture", "mamba2").unwrap();
    w.add_u32("mamba2.block_count", 2).unwrap();
    w.add_u32("mamba2.context_length", 1 << 20).unwrap();
    w.add_f32("mamba2.attention.layer_norm_rms_epsilon", 1e-5)
        .unwrap();
    w.add_u32("mamba2.ssm.group_count", 1).unwrap();
    w.add_bool("x.flag", true).unwrap();
    w.add_kv("x.i64", -7i64).unwrap();
    w.add_kv("x.f64", 2.5f64).unwrap();
    w.add_i32_array("x.per_layer", &[0, 8]).unwrap();
    w.add_kv(
        "x.nested",
        vec![MetaArray::from(vec![1i32, 2]), MetaArray::from(vec![3i32])],
    )
    .unwrap();
    w.add_str_array("tokenizer.ggml.tokens", &["<s>", "hello", "Ġworld"])
        .unwrap();
    w.add_f32_array("tokenizer.ggml.scores", &[0.0, -1.5, -2.0])
        .unwrap();
    let embd: Vec<f32> = (0..12).map(|i| i as f32).collect();
    w.add_tensor_f32("token_embd.weight", &[4, 3], &embd)
        .unwrap();
    w.add_tensor(
        "output_norm.weight",
        &[3],
        GgmlType::F16,
        vec![0x00, 0x3c, 0x00, 0x38, 0x00, 0xc0],
    )
    .unwrap();
    w.add_tensor_with("blk.0.ssm_in.weight", &[32, 2], GgmlType::Q8_0, || {
        Ok::<_, std::io::Error>((0..68u8).collect())
    })
    .unwrap();
    let ours = w.into_bytes().unwrap();
    assert_eq!(ours.len(), GGUF_PY.len());
    let first_diff = ours.iter().zip(GGUF_PY).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "first differing byte");
}
