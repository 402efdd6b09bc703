//! Corrupt-file suite: truncation at every byte, seeded random byte flips, and hand-crafted
//! files that each must fail with one specific error. A bad file must never panic the reader.

use weft::gguf::{GgmlType, Gguf, GgufError, GgufWriter, MAX_ARRAY_DEPTH, MetaArray, MetaValue};

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

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn pad(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

fn base_metadata() -> Vec<(&'static str, MetaValue)> {
    vec![
        ("general.architecture", "mamba".into()),
        ("mamba.block_count", MetaValue::U32(2)),
        (
            "mamba.attention.layer_norm_rms_epsilon",
            MetaValue::F32(1e-5),
        ),
        (
            "tokenizer.ggml.tokens",
            vec!["<s>".to_string(), "a".into(), "bc".into()].into(),
        ),
        ("tokenizer.ggml.token_type", vec![3i32, 1, 1].into()),
        (
            "x.nested",
            vec![MetaArray::from(vec![1u16, 2]), MetaArray::Bool(vec![true])].into(),
        ),
        ("x.flag", MetaValue::Bool(false)),
    ]
}

fn base_tensors() -> Vec<(&'static str, Vec<u64>, GgmlType)> {
    vec![
        ("token_embd.weight", vec![8, 3], GgmlType::F32),
        ("blk.0.ssm_in.weight", vec![64, 2], GgmlType::Q8_0),
        ("blk.0.ssm_d", vec![5], GgmlType::F16),
        ("blk.1.ssm_out.weight", vec![256, 1], GgmlType::Q4_K),
    ]
}

/// Encoded size of a value (type tag included), computed independently of the writer.
fn value_len(v: &MetaValue) -> usize {
    4 + match v {
        MetaValue::String(s) => 8 + s.len(),
        MetaValue::Array(a) => array_len(a),
        other => other.meta_type().fixed_size().unwrap(),
    }
}

fn array_len(a: &MetaArray) -> usize {
    12 + match a {
        MetaArray::String(v) => v.iter().map(|s| 8 + s.len()).sum(),
        MetaArray::Array(v) => v.iter().map(array_len).sum(),
        other => other.len() * other.elem_type().fixed_size().unwrap(),
    }
}

/// The small valid file every test mutates, and where its tensor infos end.
fn base_file() -> (Vec<u8>, usize) {
    let mut w = GgufWriter::new();
    let mut end = 24;
    for (k, v) in base_metadata() {
        end += 8 + k.len() + value_len(&v);
        w.add_kv(k, v).unwrap();
    }
    for (i, (name, dims, ty)) in base_tensors().into_iter().enumerate() {
        end += 8 + name.len() + 4 + 8 * dims.len() + 4 + 8;
        let n =
            ty.row_bytes(dims[0] as usize).unwrap() * dims[1..].iter().product::<u64>() as usize;
        let data = (0..n).map(|j| (i * 31 + j) as u8).collect();
        w.add_tensor(name, &dims, ty, data).unwrap();
    }
    (w.into_bytes().unwrap(), end)
}

/// Reads every value and every tensor byte of an accepted file.
fn touch_all(g: &Gguf) -> usize {
    let mut n = 0;
    for (k, v) in g.metadata() {
        n += k.len() + v.to_string().len() + v.type_name().len();
    }
    let data_len = g.as_bytes().len() as u64 - g.data_offset();
    for t in g.tensors() {
        assert!(
            t.offset + t.n_bytes <= data_len,
            "{t} escapes the data section"
        );
        let bytes = g.tensor_bytes(t);
        assert_eq!(bytes.len() as u64, t.n_bytes);
        n += bytes.iter().map(|&b| b as usize).sum::<usize>() + t.to_string().len();
        if t.ty == GgmlType::F32 {
            // Aligned by construction: the data section and offsets are multiples of >= 4.
            if g.alignment() >= 4 {
                n += g.tensor_f32(&t.name).unwrap().len();
            }
        }
    }
    n
}

#[test]
fn base_file_is_valid_and_laid_out_as_computed() {
    let (file, infos_end) = base_file();
    let g = Gguf::from_bytes(file.clone()).unwrap();
    assert_eq!(g.data_offset() as usize, pad(infos_end, 32));
    assert_eq!(g.metadata().len(), 7);
    assert_eq!(g.tensors().len(), 4);
    assert_eq!(
        g.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["<s>", "a", "bc"]
    );
    assert!(touch_all(&g) > 0);
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    let (file, infos_end) = base_file();
    let g = Gguf::from_bytes(file.clone()).unwrap();
    let last = g
        .tensors()
        .iter()
        .map(|t| t.offset + t.n_bytes)
        .max()
        .unwrap();
    let data_end = (g.data_offset() + last) as usize;
    for cut in 0..file.len() {
        let r = Gguf::from_bytes(file[..cut].to_vec());
        if cut < g.data_offset() as usize {
            assert!(
                matches!(
                    r,
                    Err(GgufError::Truncated { .. }
                        | GgufError::CountTooLarge { .. }
                        | GgufError::StringTooLong { .. })
                ),
                "cut at {cut}: {r:?}"
            );
        } else if cut < data_end {
            assert!(
                matches!(r, Err(GgufError::OffsetOutOfRange { .. })),
                "cut at {cut}: {r:?}"
            );
        } else {
            // Only the last tensor's trailing padding is missing: still a complete file.
            assert!(r.is_ok(), "cut at {cut}: {r:?}");
        }
    }
    // Sanity: the header region is most of what was cut through.
    assert!(infos_end > 300, "header region is {infos_end} bytes");
}

#[test]
fn random_byte_flips_never_panic() {
    let (file, infos_end) = base_file();
    let mut rng = Rng(0x5eed);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..20_000 {
        let mut f = file.clone();
        for _ in 0..1 + rng.below(4) {
            // Mostly hit the header, where the structure lives.
            let at = if rng.below(5) > 0 {
                rng.below(infos_end)
            } else {
                rng.below(f.len())
            };
            f[at] ^= 1 + rng.below(255) as u8;
        }
        match Gguf::from_bytes(f) {
            Ok(g) => {
                touch_all(&g);
                ok += 1;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                err += 1;
            }
        }
    }
    assert!(ok > 1000 && err > 5000, "ok {ok}, err {err}");
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
