//! Our converter against GGUF files written by llama.cpp's own Python writer (gguf-py 0.19.0) for
//! the same checkpoints: same tensor names, dims, types and bytes, same metadata.

use std::path::Path;

use weft::convert::{ConvertOptions, OutType, convert_to_bytes};
use weft::gguf::{Gguf, MetaValue};
use weft_tests::fixtures_dir;

fn ours(case: &str, out: OutType) -> Gguf {
    let bytes = convert_to_bytes(&fixtures_dir().join(case), &ConvertOptions::new(out)).unwrap();
    Gguf::from_bytes(bytes).unwrap()
}

fn theirs(file: &str) -> Gguf {
    Gguf::open(fixtures_dir().join("gguf_py").join(file)).unwrap()
}

/// Every llama.cpp key of the gguf-py file (the `weft.test.*` keys exercise the reader only) must
/// be in ours with the same type and value. Ours may add keys (`{arch}.vocab_size`).
fn assert_same_metadata(ours: &Gguf, theirs: &Gguf) -> usize {
    let mut n = 0;
    for (key, value) in theirs.metadata() {
        if key.starts_with("weft.test.") {
            continue;
        }
        let mine: Option<&MetaValue> = ours.get(key);
        assert_eq!(mine, Some(value), "metadata key {key}");
        n += 1;
    }
    n
}

/// Distance in units in the last place between two finite f32 of the same sign.
fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}

/// Same tensor set, dims, types and identical bytes (F32 values and Q8_0 blocks alike), except
/// `ssm_a` = -exp(A_log): gguf-py's generator used numpy's float32 SIMD `exp`, which is not
/// correctly rounded (up to 2 ULP off, and CPU-dependent); weft rounds the exact value once
/// (f64 → f32), which is what torch's `exp` (llama.cpp's converter) gives in ~99% of cases.
fn assert_same_tensors(ours: &Gguf, theirs: &Gguf) {
    let mut names: Vec<&str> = ours.tensors().iter().map(|t| t.name.as_str()).collect();
    let mut want: Vec<&str> = theirs.tensors().iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    want.sort_unstable();
    assert_eq!(names, want);
    for t in theirs.tensors() {
        let mine = ours.tensor(&t.name).unwrap();
        assert_eq!(mine.dims, t.dims, "{}: dims", t.name);
        assert_eq!(mine.ty, t.ty, "{}: type", t.name);
        if t.name.ends_with(".ssm_a") {
            let (a, b) = (
                ours.tensor_f32(&t.name).unwrap(),
                theirs.tensor_f32(&t.name).unwrap(),
            );
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| ulps(*x, *y))
                .max()
                .unwrap_or(0);
            assert!(worst <= 2, "{}: {worst} ULP from gguf-py", t.name);
            continue;
        }
        let (a, b) = (ours.tensor_bytes(mine), theirs.tensor_bytes(t));
        if a != b {
            let diff = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0);
            panic!("{}: bytes differ from gguf-py first at byte {diff}", t.name);
        }
    }
}

#[test]
fn mamba2_f32_matches_gguf_py() {
    let (o, t) = (ours("mamba2_a", OutType::F32), theirs("mamba2_a.gguf"));
    assert_eq!(assert_same_metadata(&o, &t), 16);
    assert_same_tensors(&o, &t);
    assert_eq!(o.tensors().len(), 30);
    assert_eq!(o.get_u32("mamba2.vocab_size").unwrap(), 256);
}

#[test]
fn mamba2_q8_0_matches_gguf_py_bit_for_bit() {
    let (o, t) = (
        ours("mamba2_a", OutType::Q8_0),
        theirs("mamba2_a.q8_0.gguf"),
    );
    assert_eq!(assert_same_metadata(&o, &t), 16);
    assert_same_tensors(&o, &t);
}

#[test]
fn mamba1_f32_matches_gguf_py() {
    let (o, t) = (ours("mamba1_a", OutType::F32), theirs("mamba1_a.gguf"));
    assert_eq!(assert_same_metadata(&o, &t), 16);
    assert_same_tensors(&o, &t);
    assert!(o.tensor("output.weight").is_none(), "mamba1_a is tied");
}

#[test]
fn written_file_reads_back_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.gguf");
    let s = weft::convert::convert_to_path(
        &fixtures_dir().join("mamba2_a"),
        &out,
        &ConvertOptions::new(OutType::F32),
    )
    .unwrap();
    assert_eq!(s.architecture, "mamba2");
    assert_eq!(s.tensors, 30);
    assert!(s.unused_tensors.is_empty());
    assert_eq!(s.bytes, std::fs::metadata(&out).unwrap().len());
    assert!(!Path::new(&format!("{}.tmp", out.display())).exists());
    assert_same_tensors(&Gguf::open(&out).unwrap(), &theirs("mamba2_a.gguf"));
}
