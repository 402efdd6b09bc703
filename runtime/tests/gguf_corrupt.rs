//! Corrupt-file suite, part 1: truncation at every byte and seeded random byte flips of a small
//! valid file. A bad file must be an `Err`, never a panic (crafted files: `gguf_crafted.rs`).

use weft::gguf::{GgmlType, Gguf, GgufError, GgufWriter, MetaArray, MetaValue};

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
