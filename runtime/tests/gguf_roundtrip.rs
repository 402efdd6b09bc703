//! Writer → reader round trips: every metadata type, many tensors, alignments, streaming, files.

use std::cell::RefCell;

use weft::gguf::{
    GgmlType, Gguf, GgufError, GgufWriter, MAX_ARRAY_DEPTH, MetaArray, MetaType, MetaValue,
};

/// splitmix64: a tiny seeded generator so the tests need no `rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn pad(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

/// One entry of every scalar type (with edge values), every array element type (full and
/// empty) and nested arrays, in a fixed order.
fn all_values() -> Vec<(String, MetaValue)> {
    let mut v: Vec<(&str, MetaValue)> = vec![
        ("t.u8", MetaValue::U8(255)),
        ("t.i8", MetaValue::I8(-128)),
        ("t.u16", MetaValue::U16(65535)),
        ("t.i16", MetaValue::I16(-32768)),
        ("t.u32", MetaValue::U32(u32::MAX)),
        ("t.i32", MetaValue::I32(i32::MIN)),
        ("t.f32", MetaValue::F32(-1.5e-7)),
        ("t.bool.true", MetaValue::Bool(true)),
        ("t.bool.false", MetaValue::Bool(false)),
        ("t.string", MetaValue::from("Mamba-2 ✓ \"quoted\"\n")),
        ("t.string.empty", MetaValue::from("")),
        ("t.u64", MetaValue::U64(u64::MAX)),
        ("t.i64", MetaValue::I64(i64::MIN)),
        ("t.f64", MetaValue::F64(std::f64::consts::PI)),
        ("t.a.u8", vec![0u8, 1, 255].into()),
        ("t.a.i8", vec![-1i8, 0, 127].into()),
        ("t.a.u16", vec![1u16, 65535].into()),
        ("t.a.i16", vec![-2i16, 3].into()),
        ("t.a.u32", vec![7u32, 0, u32::MAX].into()),
        ("t.a.i32", vec![0i32, -1, 4, i32::MAX].into()),
        ("t.a.f32", vec![0.5f32, -0.0, f32::INFINITY].into()),
        ("t.a.bool", vec![true, false, true].into()),
        (
            "t.a.string",
            vec!["<s>".to_string(), String::new(), "Ġhello".into()].into(),
        ),
        ("t.a.u64", vec![u64::MAX, 1].into()),
        ("t.a.i64", vec![i64::MIN, -5].into()),
        ("t.a.f64", vec![1e300f64, -2.25].into()),
        (
            "t.a.nested",
            vec![
                MetaArray::from(vec![1u8, 2, 3]),
                MetaArray::from(vec!["x".to_string()]),
                MetaArray::U32(vec![]),
                MetaArray::Array(vec![MetaArray::from(vec![-1i64])]),
            ]
            .into(),
        ),
    ];
    // Empty arrays of every element type: the element type must survive.
    let empties = [
        MetaArray::U8(vec![]),
        MetaArray::I8(vec![]),
        MetaArray::U16(vec![]),
        MetaArray::I16(vec![]),
        MetaArray::U32(vec![]),
        MetaArray::I32(vec![]),
        MetaArray::F32(vec![]),
        MetaArray::Bool(vec![]),
        MetaArray::String(vec![]),
        MetaArray::Array(vec![]),
        MetaArray::U64(vec![]),
        MetaArray::I64(vec![]),
        MetaArray::F64(vec![]),
    ];
    let mut owned: Vec<(String, MetaValue)> =
        v.drain(..).map(|(k, v)| (k.to_string(), v)).collect();
    for e in empties {
        owned.push((format!("t.empty.{}", e.elem_type()), MetaValue::Array(e)));
    }
    // The deepest nesting the reader accepts.
    let mut deep = MetaArray::from(vec![9u16]);
    for _ in 1..MAX_ARRAY_DEPTH {
        deep = MetaArray::Array(vec![deep]);
    }
    owned.push(("t.deep".to_string(), MetaValue::Array(deep)));
    owned
}

#[test]
fn every_metadata_type_round_trips_in_order() {
    let values = all_values();
    let mut w = GgufWriter::new();
    for (k, v) in &values {
        w.add_kv(k, v.clone()).unwrap();
    }
    let g = Gguf::from_bytes(w.into_bytes().unwrap()).unwrap();
    assert_eq!(g.version(), 3);
    assert_eq!(g.alignment(), 32);
    let back: Vec<(String, MetaValue)> = g
        .metadata()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(back, values);
    assert_eq!(g.metadata().len(), 13 + 14 + 13 + 1);
    // Bit-exact floats, including the sign of zero.
    match g.get("t.a.f32") {
        Some(MetaValue::Array(MetaArray::F32(v))) => {
            assert_eq!(v[1].to_bits(), (-0.0f32).to_bits())
        }
        other => panic!("t.a.f32 came back as {other:?}"),
    }
    for t in 0..13 {
        let ty = MetaType::from_id(t).unwrap();
        let v = g.get(&format!("t.empty.{ty}")).unwrap();
        assert_eq!(
            v.as_array().map(|a| (a.elem_type(), a.len())),
            Some((ty, 0))
        );
    }
    assert_eq!(
        g.get("t.deep").unwrap().as_array().unwrap().depth(),
        MAX_ARRAY_DEPTH
    );
    assert_eq!(g.tensors().len(), 0);
}

/// Tensor declarations of several types and 1–4 dimensions.
fn tensor_specs() -> Vec<(String, Vec<u64>, GgmlType)> {
    let shapes: [(&[u64], GgmlType); 12] = [
        (&[7], GgmlType::F32),
        (&[3, 5], GgmlType::F32),
        (&[2, 3, 4, 5], GgmlType::F32),
        (&[9, 2], GgmlType::F16),
        (&[5, 1, 3], GgmlType::BF16),
        (&[64, 3], GgmlType::Q8_0),
        (&[32, 2, 2], GgmlType::Q4_0),
        (&[256, 2], GgmlType::Q4_K),
        (&[512], GgmlType::Q6_K),
        (&[11], GgmlType::I8),
        (&[3, 3], GgmlType::I32),
        (&[32, 1, 1, 2], GgmlType::Q5_1),
    ];
    (0..30)
        .map(|i| {
            let (dims, ty) = shapes[i % shapes.len()];
            (format!("blk.{i}.w"), dims.to_vec(), ty)
        })
        .collect()
}

fn expected_bytes(dims: &[u64], ty: GgmlType) -> usize {
    let rows: u64 = dims[1..].iter().product();
    ty.row_bytes(dims[0] as usize).unwrap() * rows as usize
}

fn check_tensors(alignment: u32) {
    let mut rng = Rng(alignment as u64);
    let specs = tensor_specs();
    let data: Vec<Vec<u8>> = specs
        .iter()
        .map(|(_, d, t)| rng.bytes(expected_bytes(d, *t)))
        .collect();
    let mut w = GgufWriter::new();
    w.set_alignment(alignment).unwrap();
    w.add_str("general.architecture", "mamba2").unwrap();
    for ((name, dims, ty), bytes) in specs.iter().zip(&data) {
        w.add_tensor(name, dims, *ty, bytes.clone()).unwrap();
    }
    let file = w.into_bytes().unwrap();
    let g = Gguf::from_bytes(file.clone()).unwrap();

    let a = alignment as u64;
    assert_eq!(g.alignment(), a);
    // general.alignment is written only when it is not the default.
    let written = g.get("general.alignment").cloned();
    assert_eq!(written, (a != 32).then_some(MetaValue::U32(alignment)));
    assert_eq!(g.data_offset() % a, 0);
    assert_eq!(g.tensors().len(), specs.len());
    let mut running = 0u64;
    for (i, t) in g.tensors().iter().enumerate() {
        let (name, dims, ty) = &specs[i];
        assert_eq!((&t.name, &t.dims, t.ty), (name, dims, *ty));
        assert_eq!(t.n_bytes as usize, data[i].len());
        // llama.cpp's rule: offsets are the running sum of sizes padded to the alignment.
        assert_eq!(t.offset, running, "offset of {name}");
        running = pad(running + t.n_bytes, a);
        assert_eq!(g.tensor_bytes(t), &data[i][..]);
        assert_eq!(g.tensor(name), Some(t));
    }
    assert_eq!(
        file.len() as u64,
        g.data_offset() + running,
        "data section is padded"
    );
}

#[test]
fn tensors_round_trip_at_default_alignment() {
    check_tensors(32);
}

#[test]
fn tensors_round_trip_at_other_alignments() {
    for a in [1, 8, 64, 4096] {
        check_tensors(a);
    }
}

#[test]
fn tensor_helpers_and_display() {
    let mut w = GgufWriter::new();
    w.add_tensor("w", &[64, 3, 2], GgmlType::Q8_0, vec![0; 408])
        .unwrap();
    let g = Gguf::from_bytes(w.into_bytes().unwrap()).unwrap();
    let t = g.tensor("w").unwrap();
    assert_eq!(
        (t.row_len(), t.rows(), t.n_elements(), t.row_bytes()),
        (64, 6, 384, 68)
    );
    assert_eq!(t.to_string(), "w Q8_0 [64, 3, 2] @0 (408 bytes)");
    assert_eq!(MetaValue::from(vec![1i32, -2]).to_string(), "[1, -2]");
    assert_eq!(MetaValue::from(vec![1i32]).type_name(), "array[i32]");
}

#[test]
fn lazy_tensors_are_produced_in_order_at_write_time() {
    let source: Vec<f32> = (0..96).map(|i| i as f32 * 0.25).collect();
    let log = RefCell::new(Vec::new());
    let mut w = GgufWriter::new();
    for (i, chunk) in source.chunks(32).enumerate() {
        let (log, name) = (&log, format!("t{i}"));
        w.add_tensor_with(&format!("t{i}"), &[8, 4], GgmlType::F32, move || {
            log.borrow_mut().push(name);
            Ok::<_, std::io::Error>(bytemuck::cast_slice(chunk).to_vec())
        })
        .unwrap();
    }
    assert!(
        log.borrow().is_empty(),
        "nothing is produced at declaration"
    );
    let g = Gguf::from_bytes(w.into_bytes().unwrap()).unwrap();
    assert_eq!(*log.borrow(), ["t0", "t1", "t2"]);
    assert_eq!(g.tensor_f32("t2").unwrap(), &source[64..]);
}

#[test]
fn write_to_path_is_atomic_and_opens_zero_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let values: Vec<f32> = (0..40).map(|i| (i as f32).sin()).collect();
    let build = || {
        let mut w = GgufWriter::new();
        w.add_u32("mamba.block_count", 2).unwrap();
        w.add_tensor("q", &[32], GgmlType::Q8_0, vec![7; 34])
            .unwrap();
        w.add_tensor_f32("x", &[8, 5], &values).unwrap();
        w
    };
    let n = build().write_to_path(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(bytes, build().into_bytes().unwrap());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["m.gguf"], "the temporary file is renamed away");

    let g = Gguf::open(&path).unwrap();
    let x = g.tensor_f32("x").unwrap();
    assert_eq!(x, &values[..]);
    let t = g.tensor("x").unwrap();
    let expect = g.as_bytes()[(g.data_offset() + t.offset) as usize..].as_ptr();
    assert_eq!(
        x.as_ptr() as *const u8,
        expect,
        "borrowed from the map, not copied"
    );
    assert!(matches!(
        g.tensor_f32("q"),
        Err(GgufError::TensorType { ref tensor, expected: GgmlType::F32, found: GgmlType::Q8_0 }) if tensor == "q"
    ));
    assert!(
        matches!(g.tensor_f32("nope"), Err(GgufError::MissingTensor { ref tensor }) if tensor == "nope")
    );
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        Gguf::open(&empty),
        Err(GgufError::Truncated {
            offset: 0,
            needed: 4,
            ..
        })
    ));
    assert!(matches!(
        Gguf::open(dir.path().join("missing.gguf")),
        Err(GgufError::Io { ref path, .. }) if path.ends_with("missing.gguf")
    ));
}

#[test]
fn failed_producer_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut w = GgufWriter::new();
    w.add_tensor_f32("a", &[4], &[1.0; 4]).unwrap();
    w.add_tensor_with("b", &[4], GgmlType::F32, || Err("source tensor missing"))
        .unwrap();
    let err = w.write_to_path(&path).unwrap_err();
    assert!(matches!(err, GgufError::Producer { ref tensor, .. } if tensor == "b"));
    assert!(err.to_string().contains("source tensor missing"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let mut w = GgufWriter::new();
    w.add_tensor_with("c", &[4], GgmlType::F32, || Ok::<_, GgufError>(vec![0; 12]))
        .unwrap();
    assert!(matches!(
        w.into_bytes(),
        Err(GgufError::TensorSize { ref tensor, expected: 16, got: 12 }) if tensor == "c"
    ));
}

#[test]
fn writer_rejects_what_the_reader_would() {
    let mut w = GgufWriter::new();
    w.add_kv("a", MetaValue::U8(1)).unwrap();
    // Second entry would start after the header (24) and "a" (8 + 1 + 4 + 1 bytes).
    assert!(matches!(
        w.add_kv("a", MetaValue::U8(2)),
        Err(GgufError::DuplicateKey { ref key, offset: 38 }) if key == "a"
    ));
    assert!(
        matches!(w.set_alignment(3), Err(GgufError::BadAlignment { ref found, .. }) if found == "3")
    );
    assert!(matches!(
        w.set_alignment(0),
        Err(GgufError::BadAlignment { .. })
    ));
    assert!(matches!(
        w.add_kv("general.alignment", MetaValue::U64(64)),
        Err(GgufError::BadAlignment { ref found, .. }) if found == "u64 64"
    ));
    let mut deep = MetaArray::U8(vec![]);
    for _ in 0..MAX_ARRAY_DEPTH {
        deep = MetaArray::Array(vec![deep]);
    }
    assert!(matches!(
        w.add_kv("deep", deep),
        Err(GgufError::NestingTooDeep { ref key, .. }) if key == "deep"
    ));
    w.add_tensor_f32("t", &[2], &[0.0; 2]).unwrap();
    assert!(matches!(
        w.add_tensor_f32("t", &[2], &[0.0; 2]),
        Err(GgufError::DuplicateTensor { ref tensor }) if tensor == "t"
    ));
    assert!(matches!(
        w.add_tensor("q", &[48], GgmlType::Q8_0, vec![]),
        Err(GgufError::RowNotBlockMultiple {
            row_len: 48,
            block_size: 32,
            ..
        })
    ));
    assert!(matches!(
        w.add_tensor("e", &[], GgmlType::F32, vec![]),
        Err(GgufError::BadDimCount { n_dims: 0, .. })
    ));
    assert!(matches!(
        w.add_tensor("f", &[1, 1, 1, 1, 1], GgmlType::F32, vec![0; 4]),
        Err(GgufError::BadDimCount { n_dims: 5, .. })
    ));
    assert!(matches!(
        w.add_tensor("z", &[4, 0], GgmlType::F32, vec![]),
        Err(GgufError::BadDim {
            index: 1,
            value: 0,
            ..
        })
    ));
    assert!(matches!(
        w.add_tensor("s", &[4], GgmlType::F32, vec![0; 15]),
        Err(GgufError::TensorSize {
            expected: 16,
            got: 15,
            ..
        })
    ));
    // Nothing rejected was kept.
    let g = Gguf::from_bytes(w.into_bytes().unwrap()).unwrap();
    assert_eq!(
        (g.metadata().len(), g.tensors().len(), g.alignment()),
        (1, 1, 32)
    );
}
