//! Hand-crafted bad files: each must fail with one specific error naming its offset, key or
//! tensor (and a few crafted good ones must pass).

use weft::gguf::{GgmlType, Gguf, GgufError, MAX_ARRAY_DEPTH};

fn pad(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

/// Hand-assembles GGUF bytes, including values the writer refuses to produce.
struct Raw(Vec<u8>);

impl Raw {
    fn new(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw(b"GGUF".to_vec());
        r.u32(version).u64(n_tensors).u64(n_kv);
        r
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    fn kv_u32(&mut self, key: &str, v: u32) -> &mut Self {
        self.str(key).u32(4).u32(v)
    }

    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ty).u64(offset)
    }

    /// Pads to `align` and appends a data section of `data` bytes.
    fn data(&mut self, align: usize, data: usize) -> Vec<u8> {
        let start = pad(self.0.len(), align);
        let mut out = self.0.clone();
        out.resize(start + data, 0xAB);
        out
    }

    fn open(&mut self) -> Result<Gguf, GgufError> {
        Gguf::from_bytes(self.0.clone())
    }
}

/// A file with one F32 tensor of `dims` at `offset` and a data section of `data` bytes.
fn one_tensor(dims: &[u64], ty: u32, offset: u64, data: usize) -> Result<Gguf, GgufError> {
    let mut r = Raw::new(3, 1, 0);
    r.tensor("w", dims, ty, offset);
    Gguf::from_bytes(r.data(32, data))
}

#[test]
fn crafted_header_errors() {
    assert!(matches!(
        Gguf::from_bytes(vec![]),
        Err(GgufError::Truncated {
            offset: 0,
            needed: 4,
            available: 0,
            ..
        })
    ));
    let mut bad = Raw::new(3, 0, 0).0;
    bad[3] = b'G';
    assert!(
        matches!(Gguf::from_bytes(bad), Err(GgufError::BadMagic { found }) if &found == b"GGUG")
    );
    for v in [0, 1, 4, 0x0300_0000] {
        assert!(matches!(
            Raw::new(v, 0, 0).open(),
            Err(GgufError::UnsupportedVersion { version }) if version == v
        ));
    }
    let mut v2 = Raw::new(2, 0, 1);
    v2.kv_u32("k", 5);
    let g = Gguf::from_bytes(v2.data(32, 0)).unwrap();
    assert_eq!(
        (g.version(), g.get_u32("k").unwrap(), g.data_offset()),
        (2, 5, 64)
    );
    // The padding before the data section is required even without tensors.
    assert!(matches!(
        v2.open(),
        Err(GgufError::Truncated { ref what, offset: 41, needed: 23, available: 0 })
            if what == "padding before the data section"
    ));
    for n in [u64::MAX, i64::MAX as u64, 1 << 40, 2] {
        assert!(matches!(
            Raw::new(3, n, 0).open(),
            Err(GgufError::CountTooLarge { ref what, count, offset: 8, .. }) if what == "tensor count" && count == n
        ));
        assert!(matches!(
            Raw::new(3, 0, n).open(),
            Err(GgufError::CountTooLarge { ref what, count, offset: 16, .. }) if what == "metadata count" && count == n
        ));
    }
}

#[test]
fn crafted_metadata_errors() {
    // Key length u64::MAX.
    let mut r = Raw::new(3, 0, 1);
    r.u64(u64::MAX).u32(4).u32(0);
    assert!(matches!(
        r.open(),
        Err(GgufError::StringTooLong {
            offset: 24,
            len: u64::MAX,
            available: 8,
            ..
        })
    ));
    // String value longer than the file.
    let mut r = Raw::new(3, 0, 1);
    r.str("k").u32(8).u64(1 << 62).u64(0);
    assert!(matches!(
        r.open(),
        Err(GgufError::StringTooLong {
            offset: 37,
            len: 0x4000_0000_0000_0000,
            ..
        })
    ));
    // Array lengths that cannot fit, for fixed, string and nested elements (u64::MAX * 8
    // also overflows).
    for elem in [0u32, 10, 8, 9] {
        for n in [u64::MAX, u64::MAX / 4, 1000] {
            let mut r = Raw::new(3, 0, 1);
            r.str("arr").u32(9).u32(elem).u64(n).u64(0);
            assert!(
                matches!(
                    r.open(),
                    Err(GgufError::CountTooLarge { ref what, count, offset: 43, .. })
                        if what == "array length of key 'arr'" && count == n
                ),
                "elem {elem} len {n}: {:?}",
                r.open()
            );
        }
    }
    // Unknown value type and unknown array element type.
    let mut r = Raw::new(3, 0, 1);
    r.str("k").u32(13).u32(0);
    assert!(matches!(
        r.open(),
        Err(GgufError::UnknownValueType { ref key, type_id: 13, offset: 33 }) if key == "k"
    ));
    let mut r = Raw::new(3, 0, 1);
    r.str("k").u32(9).u32(99).u64(0);
    assert!(matches!(
        r.open(),
        Err(GgufError::UnknownValueType {
            type_id: 99,
            offset: 37,
            ..
        })
    ));
    // Nesting deeper than allowed.
    let mut r = Raw::new(3, 0, 1);
    r.str("deep").u32(9);
    for _ in 0..MAX_ARRAY_DEPTH {
        r.u32(9).u64(1);
    }
    r.u32(0).u64(0);
    assert!(matches!(
        r.open(),
        Err(GgufError::NestingTooDeep { ref key, max: MAX_ARRAY_DEPTH, .. }) if key == "deep"
    ));
    // Invalid UTF-8 in a key.
    let mut r = Raw::new(3, 0, 1);
    r.u64(2).u8(0xC3).u8(0x28).u32(0).u8(1);
    assert!(matches!(
        r.open(),
        Err(GgufError::InvalidUtf8 { ref what, offset: 24 }) if what == "key of metadata entry #0"
    ));
    // A bool that is neither 0 nor 1, as a scalar and in an array.
    let mut r = Raw::new(3, 0, 1);
    r.str("b").u32(7).u8(2);
    assert!(matches!(
        r.open(),
        Err(GgufError::InvalidBool {
            value: 2,
            offset: 37,
            ..
        })
    ));
    let mut r = Raw::new(3, 0, 1);
    r.str("b").u32(9).u32(7).u64(2).u8(1).u8(9);
    assert!(matches!(
        r.open(),
        Err(GgufError::InvalidBool {
            value: 9,
            offset: 50,
            ..
        })
    ));
    // Duplicate key: the second entry starts at 24 + (8 + 1 + 4 + 4).
    let mut r = Raw::new(3, 0, 2);
    r.kv_u32("k", 1).kv_u32("k", 2);
    assert!(matches!(r.open(), Err(GgufError::DuplicateKey { ref key, offset: 41 }) if key == "k"));
}

#[test]
fn crafted_alignment_errors() {
    for a in [0u32, 3, 48] {
        let mut r = Raw::new(3, 0, 1);
        r.kv_u32("general.alignment", a);
        assert!(matches!(
            r.open(),
            Err(GgufError::BadAlignment { ref found, offset: 24 }) if *found == a.to_string()
        ));
    }
    let mut r = Raw::new(3, 0, 1);
    r.str("general.alignment").u32(10).u64(64);
    assert!(
        matches!(r.open(), Err(GgufError::BadAlignment { ref found, .. }) if found == "u64 64")
    );
    let mut r = Raw::new(3, 0, 1);
    r.str("general.alignment").u32(8).str("32");
    assert!(matches!(r.open(), Err(GgufError::BadAlignment { .. })));
    // A valid non-default alignment moves the data section and constrains offsets.
    let mut r = Raw::new(3, 2, 1);
    r.kv_u32("general.alignment", 64)
        .tensor("a", &[4], 0, 0)
        .tensor("b", &[4], 0, 64);
    let g = Gguf::from_bytes(r.data(64, 80)).unwrap();
    assert_eq!((g.alignment(), g.data_offset() % 64), (64, 0));
    let mut r = Raw::new(3, 1, 1);
    r.kv_u32("general.alignment", 64).tensor("a", &[4], 0, 32);
    assert!(matches!(
        Gguf::from_bytes(r.data(64, 128)),
        Err(GgufError::MisalignedOffset {
            offset: 32,
            alignment: 64,
            ..
        })
    ));
}

#[test]
fn crafted_tensor_shape_errors() {
    let mut r = Raw::new(3, 1, 0);
    r.tensor("five", &[1, 1, 1, 1, 1], 0, 0);
    assert!(matches!(
        Gguf::from_bytes(r.data(32, 32)),
        Err(GgufError::BadDimCount { ref tensor, n_dims: 5 }) if tensor == "five"
    ));
    assert!(matches!(
        one_tensor(&[], 0, 0, 32),
        Err(GgufError::BadDimCount { n_dims: 0, .. })
    ));
    let mut r = Raw::new(3, 1, 0);
    r.str("huge").u32(u32::MAX);
    assert!(matches!(
        Gguf::from_bytes(r.data(32, 64)),
        Err(GgufError::BadDimCount {
            n_dims: u32::MAX,
            ..
        })
    ));
    assert!(matches!(
        one_tensor(&[4, 0], 0, 0, 32),
        Err(GgufError::BadDim { ref tensor, index: 1, value: 0 }) if tensor == "w"
    ));
    assert!(matches!(
        one_tensor(&[u64::MAX], 0, 0, 32),
        Err(GgufError::BadDim {
            index: 0,
            value: -1,
            ..
        })
    ));
    assert!(matches!(
        one_tensor(&[1 << 32, 1 << 32], 0, 0, 32),
        Err(GgufError::DimsOverflow { .. })
    ));
    // Element count fits, byte count does not.
    assert!(matches!(
        one_tensor(&[1 << 62], 0, 0, 32),
        Err(GgufError::DimsOverflow { .. })
    ));
    for id in [4u32, 5, 31, 99, u32::MAX] {
        assert!(matches!(
            one_tensor(&[32], id, 0, 32),
            Err(GgufError::UnknownGgmlType { ref tensor, id: got }) if tensor == "w" && got == id
        ));
    }
    assert!(matches!(
        one_tensor(&[48], GgmlType::Q8_0.id(), 0, 64),
        Err(GgufError::RowNotBlockMultiple {
            row_len: 48,
            block_size: 32,
            ty: GgmlType::Q8_0,
            ..
        })
    ));
    assert!(matches!(
        one_tensor(&[100], GgmlType::Q4_K.id(), 0, 256),
        Err(GgufError::RowNotBlockMultiple {
            block_size: 256,
            ..
        })
    ));
    // Invalid UTF-8 in a tensor name.
    let mut r = Raw::new(3, 1, 0);
    r.u64(1).u8(0xFF);
    assert!(matches!(
        Gguf::from_bytes(r.data(32, 64)),
        Err(GgufError::InvalidUtf8 { ref what, offset: 24 }) if what == "name of tensor #0"
    ));
}

#[test]
fn crafted_tensor_layout_errors() {
    // A valid 16-byte F32 tensor for reference.
    let g = one_tensor(&[4], 0, 0, 16).unwrap();
    assert_eq!(
        g.tensor_f32("w").unwrap(),
        [f32::from_le_bytes([0xAB; 4]); 4]
    );
    assert!(matches!(
        one_tensor(&[4], 0, 4, 64),
        Err(GgufError::MisalignedOffset {
            offset: 4,
            alignment: 32,
            ..
        })
    ));
    assert!(matches!(
        one_tensor(&[4], 0, 32, 40),
        Err(GgufError::OffsetOutOfRange {
            offset: 32,
            n_bytes: 16,
            data_len: 40,
            ..
        })
    ));
    assert!(matches!(
        one_tensor(&[4], 0, 0, 15),
        Err(GgufError::OffsetOutOfRange { data_len: 15, .. })
    ));
    // offset + n_bytes overflows u64.
    assert!(matches!(
        one_tensor(&[4], 0, u64::MAX - 31, 64),
        Err(GgufError::OffsetOutOfRange { .. })
    ));
    // Overlap: "b" starts inside "a".
    let mut r = Raw::new(3, 2, 0);
    r.tensor("a", &[16], 0, 0).tensor("b", &[4], 0, 32);
    assert!(matches!(
        Gguf::from_bytes(r.data(32, 128)),
        Err(GgufError::Overlap { ref tensor, offset: 32, ref other, other_end: 64 })
            if tensor == "b" && other == "a"
    ));
    let mut r = Raw::new(3, 2, 0);
    r.tensor("a", &[4], 0, 0).tensor("b", &[4], 0, 0);
    assert!(matches!(
        Gguf::from_bytes(r.data(32, 64)),
        Err(GgufError::Overlap { .. })
    ));
    let mut r = Raw::new(3, 2, 0);
    r.tensor("a", &[4], 0, 0).tensor("a", &[4], 0, 32);
    assert!(matches!(
        Gguf::from_bytes(r.data(32, 64)),
        Err(GgufError::DuplicateTensor { ref tensor }) if tensor == "a"
    ));
    // Not llama.cpp's running sum, but aligned, in range and disjoint: accepted.
    let mut r = Raw::new(3, 2, 0);
    r.tensor("late", &[4], 0, 96).tensor("early", &[4], 0, 0);
    let mut bytes = r.data(32, 112);
    let d = bytes.len() - 112;
    bytes[d + 96..d + 112].copy_from_slice(bytemuck::cast_slice(&[1.0f32, 2.0, 3.0, 4.0]));
    let g = Gguf::from_bytes(bytes).unwrap();
    assert_eq!(g.tensor_f32("late").unwrap(), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(g.tensors()[1].name, "early");
}

#[test]
fn errors_name_the_culprit() {
    let e = one_tensor(&[32], 99, 0, 32).unwrap_err();
    assert_eq!(e.to_string(), "tensor 'w': unknown ggml type id 99");
    let mut r = Raw::new(3, 0, 2);
    r.kv_u32("k", 1).kv_u32("k", 2);
    assert_eq!(
        r.open().unwrap_err().to_string(),
        "duplicate key 'k' at offset 41"
    );
    let mut r = Raw::new(3, 0, 1);
    r.str("name").u32(8).u64(10).u8(b'x');
    assert_eq!(
        r.open().unwrap_err().to_string(),
        "value of key 'name' (entry at offset 24) at offset 40: string length 10 exceeds the 1 bytes left"
    );
}
