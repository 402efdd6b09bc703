//! Shared helpers for weft's integration tests: fixture discovery, in-memory conversion, GGUF
//! rewriting (dequantized twins, corrupted variants) and small utilities.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft::Model;
use weft::convert::{ConvertOptions, OutType, convert_to_bytes};
use weft::gguf::{GgmlType, Gguf, GgufWriter, MetaValue, TensorInfo};
use weft::parity::Reference;

pub use weft_testkit::{fixtures_dir, hf_cases};

pub fn case_dir(case: &str) -> PathBuf {
    fixtures_dir().join(case)
}

/// The fixture `case` converted in memory to `ty`.
pub fn gguf_bytes(case: &str, ty: OutType) -> Vec<u8> {
    convert_to_bytes(&case_dir(case), &ConvertOptions::new(ty)).expect("fixture converts")
}

pub fn model_from_bytes(bytes: Vec<u8>) -> Arc<Model> {
    Arc::new(Model::from_gguf(Gguf::from_bytes(bytes).expect("valid GGUF")).expect("model loads"))
}

/// The fixture `case` converted to `ty` and loaded.
pub fn load(case: &str, ty: OutType) -> Arc<Model> {
    model_from_bytes(gguf_bytes(case, ty))
}

pub fn reference(case: &str) -> Reference {
    Reference::load(&case_dir(case).join("reference.safetensors")).expect("reference loads")
}

/// A tensor as a rewrite produces it: dims, type, bytes.
pub type NewTensor = (Vec<u64>, GgmlType, Vec<u8>);

/// Rebuilds a GGUF: `key` maps each metadata entry to its replacement (`None` drops it), `tensor`
/// each tensor (`None` drops it); `extra_kv` is appended.
pub fn rewrite(
    src: &Gguf,
    key: impl Fn(&str, &MetaValue) -> Option<MetaValue>,
    tensor: impl Fn(&TensorInfo, &[u8]) -> Option<NewTensor>,
    extra_kv: &[(&str, MetaValue)],
) -> Vec<u8> {
    let mut w = GgufWriter::new();
    for (k, v) in src.metadata() {
        if k == "general.alignment" {
            continue;
        }
        if let Some(v) = key(k, v) {
            w.add_kv(k, v).expect("metadata copies");
        }
    }
    for (k, v) in extra_kv {
        w.add_kv(k, v.clone()).expect("extra metadata");
    }
    for info in src.tensors() {
        if let Some((dims, ty, bytes)) = tensor(info, src.tensor_bytes(info)) {
            w.add_tensor(&info.name, &dims, ty, bytes)
                .expect("tensor copies");
        }
    }
    w.into_bytes().expect("GGUF writes")
}

/// Keeps a tensor as it is.
pub fn same(info: &TensorInfo, bytes: &[u8]) -> Option<NewTensor> {
    Some((info.dims.clone(), info.ty, bytes.to_vec()))
}

/// `src` with every tensor dequantized to F32: the same model in exact arithmetic.
pub fn dequantized_twin(src: &Gguf) -> Vec<u8> {
    rewrite(
        src,
        |_, v| Some(v.clone()),
        |info, bytes| {
            let mut values = vec![0.0f32; info.n_elements()];
            weft_kernels::quant::dequantize(info.ty, bytes, &mut values).expect("dequantizes");
            let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
            Some((info.dims.clone(), GgmlType::F32, bytes))
        },
        &[],
    )
}

/// Resident set size of this process in KiB (Linux), for the memory tests.
pub fn rss_kib() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A small deterministic generator (splitmix64) for token streams and random weights.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n as u64) as u32
    }

    /// `n` token ids below `vocab`.
    pub fn tokens(&mut self, n: usize, vocab: usize) -> Vec<u32> {
        (0..n).map(|_| self.below(vocab as u32)).collect()
    }

    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Max over rows of the relative L2 distance between two `[rows, width]` logit arrays.
pub fn max_rel_rows(a: &[f32], b: &[f32], width: usize) -> f64 {
    a.chunks(width)
        .zip(b.chunks(width))
        .map(|(x, y)| weft::parity::rel_l2(x, y))
        .fold(0.0, f64::max)
}

/// A fixture folder name from its path.
pub fn case_name(dir: &Path) -> String {
    dir.file_name()
        .expect("named folder")
        .to_string_lossy()
        .into_owned()
}

/// `src` with extra F32 tensors appended (name, ggml dims, values).
pub fn with_extra_tensors(src: &Gguf, extra: &[(String, Vec<u64>, Vec<f32>)]) -> Vec<u8> {
    let mut w = GgufWriter::new();
    for (k, v) in src.metadata() {
        if k != "general.alignment" {
            w.add_kv(k, v.clone()).expect("metadata copies");
        }
    }
    for info in src.tensors() {
        w.add_tensor(
            &info.name,
            &info.dims,
            info.ty,
            src.tensor_bytes(info).to_vec(),
        )
        .expect("tensor copies");
    }
    for (name, dims, values) in extra {
        w.add_tensor_f32(name, dims, values).expect("extra tensor");
    }
    w.into_bytes().expect("GGUF writes")
}
