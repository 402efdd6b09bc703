//! `weft synth`: random-weight models at the shapes of public checkpoints, for benchmarks.
//!
//! A shape is the Hugging Face `config.json` of the checkpoint; the tensors are made up by a
//! [`Synthetic`] checkpoint and written by the converter, so the file carries llama.cpp's names
//! and keys (Mamba-1, Mamba-2, Jamba, Llama: the same file runs in llama.cpp) and weft's Zamba2
//! names, exactly as `weft convert` would write the real checkpoint. Tensors are generated,
//! encoded and written one at a time, so memory stays near the largest tensor.
//!
//! Weights follow the usual initialisations so a model stays finite over long streams: norms 1,
//! matrices uniform with variance `1/(3·in)` (PyTorch's `Linear` default), `A = -(1..N)` per
//! channel (Mamba-1) or `-U(1, 16)` per head (Mamba-2), `dt` log-uniform in [1e-3, 1e-1]
//! through its bias, `D = 1`, embeddings of unit variance. A byte-level BPE vocabulary of the
//! 256 byte tokens (padded to the model's vocabulary) lets llama.cpp load the file.

use std::path::Path;

use serde_json::{Value, json};

use crate::convert::{ConvertError, ConvertOptions, HfModel, OutType, Synthetic, convert_model};
use crate::gguf::{GgufWriter, MetaValue};

/// One model shape: the architecture and the checkpoint it copies.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// GGUF architecture (`mamba`, `mamba2`, `jamba`, `zamba2`, `llama`).
    pub arch: &'static str,
    pub name: &'static str,
    /// Where the numbers come from.
    pub source: &'static str,
}

/// Every shape `weft synth` knows.
pub const SHAPES: &[Shape] = &[
    Shape {
        arch: "mamba",
        name: "mamba-130m",
        source: "state-spaces/mamba-130m-hf config (SPEC.md §1.1)",
    },
    Shape {
        arch: "mamba2",
        name: "mamba2-130m",
        source: "state-spaces/mamba2-130m (SPEC.md §2.1, vocabulary padded to 50288)",
    },
    Shape {
        arch: "jamba",
        name: "jamba-tiny-dev",
        source: "ai21labs/Jamba-tiny-dev: 319M parameters; H 512, 16 layers (attention at 4, 12), \
                 8 heads / 2 kv, MoE 8×2048 top-2 on odd layers (derived from the parameter count)",
    },
    Shape {
        arch: "zamba2",
        name: "zamba2-1.2b",
        source: "Zyphra/Zamba2-1.2B (SPEC.md §4.1)",
    },
    Shape {
        arch: "zamba2",
        name: "zamba2-2.7b",
        source: "Zyphra/Zamba2-2.7B (SPEC.md §4.1)",
    },
    Shape {
        arch: "llama",
        name: "llama-124m",
        source: "GPT-2-small-sized Llama: H 768, 12 layers, 12 heads, SwiGLU 2048, vocab 50304 tied",
    },
    Shape {
        arch: "mamba",
        name: "tiny",
        source: "test shape",
    },
    Shape {
        arch: "mamba2",
        name: "tiny",
        source: "test shape",
    },
    Shape {
        arch: "jamba",
        name: "tiny",
        source: "test shape",
    },
    Shape {
        arch: "zamba2",
        name: "tiny",
        source: "test shape",
    },
    Shape {
        arch: "llama",
        name: "tiny",
        source: "test shape",
    },
];

/// Why a model cannot be synthesized.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("no shape {shape:?} for architecture {arch:?} (known: {known})")]
    UnknownShape {
        arch: String,
        shape: String,
        known: String,
    },
    #[error(transparent)]
    Convert(#[from] ConvertError),
}

/// The shape called `name` for `arch` (a full name like `mamba2-130m`, or `tiny`).
pub fn find(arch: &str, name: &str) -> Result<Shape, SynthError> {
    SHAPES
        .iter()
        .find(|s| s.arch == arch && s.name == name)
        .copied()
        .ok_or_else(|| SynthError::UnknownShape {
            arch: arch.to_string(),
            shape: name.to_string(),
            known: SHAPES
                .iter()
                .map(|s| format!("{} {}", s.arch, s.name))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Hugging Face layer-type list with `hybrid` at `ids` (Zamba2).
fn layer_types(layers: usize, ids: &[usize]) -> Value {
    (0..layers)
        .map(|i| if ids.contains(&i) { "hybrid" } else { "mamba" })
        .collect()
}

impl Shape {
    /// The checkpoint's `config.json`.
    pub fn config(&self) -> Value {
        let mut c = match (self.arch, self.name) {
            ("mamba", "mamba-130m") => json!({
                "architectures": ["MambaForCausalLM"], "hidden_size": 768,
                "num_hidden_layers": 24, "vocab_size": 50280, "state_size": 16, "expand": 2,
                "intermediate_size": 1536, "conv_kernel": 4, "time_step_rank": 48,
                "layer_norm_epsilon": 1e-5, "use_bias": false, "use_conv_bias": true,
                "tie_word_embeddings": true,
            }),
            ("mamba", _) => json!({
                "architectures": ["MambaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
                "vocab_size": 512, "state_size": 8, "expand": 2, "conv_kernel": 4,
                "time_step_rank": 4, "tie_word_embeddings": true,
            }),
            ("mamba2", "mamba2-130m") => json!({
                "architectures": ["Mamba2ForCausalLM"], "num_heads": 24, "head_dim": 64,
                "hidden_size": 768, "state_size": 128, "n_groups": 1, "expand": 2,
                "conv_kernel": 4, "chunk_size": 256, "num_hidden_layers": 24,
                "vocab_size": 50288, "layer_norm_epsilon": 1e-5, "use_bias": false,
                "use_conv_bias": true, "tie_word_embeddings": true,
            }),
            ("mamba2", _) => json!({
                "architectures": ["Mamba2ForCausalLM"], "num_heads": 4, "head_dim": 32,
                "hidden_size": 64, "state_size": 16, "n_groups": 1, "expand": 2,
                "conv_kernel": 4, "num_hidden_layers": 2, "vocab_size": 512,
                "tie_word_embeddings": true,
            }),
            ("jamba", "jamba-tiny-dev") => json!({
                "architectures": ["JambaForCausalLM"], "hidden_size": 512,
                "num_hidden_layers": 16, "vocab_size": 65536, "intermediate_size": 2048,
                "num_attention_heads": 8, "num_key_value_heads": 2, "attn_layer_period": 8,
                "attn_layer_offset": 4, "expert_layer_period": 2, "expert_layer_offset": 1,
                "num_experts": 8, "num_experts_per_tok": 2, "mamba_d_state": 16,
                "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": 32,
                "mamba_conv_bias": true, "mamba_proj_bias": false, "rms_norm_eps": 1e-6,
                "tie_word_embeddings": false, "max_position_embeddings": 262144,
            }),
            ("jamba", _) => json!({
                "architectures": ["JambaForCausalLM"], "hidden_size": 64,
                "num_hidden_layers": 4, "vocab_size": 512, "intermediate_size": 128,
                "num_attention_heads": 4, "num_key_value_heads": 2, "attn_layer_period": 4,
                "attn_layer_offset": 2, "expert_layer_period": 2, "expert_layer_offset": 1,
                "num_experts": 4, "num_experts_per_tok": 2, "mamba_d_state": 8,
                "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": 4,
                "tie_word_embeddings": false, "max_position_embeddings": 4096,
            }),
            ("zamba2", "zamba2-1.2b") => json!({
                "architectures": ["Zamba2ForCausalLM"], "hidden_size": 2048,
                "num_hidden_layers": 38, "layers_block_type": layer_types(38, &[5, 11, 17, 23, 29, 35]),
                "num_mem_blocks": 1, "mamba_d_state": 128, "mamba_d_conv": 4,
                "mamba_expand": 2, "mamba_ngroups": 1, "mamba_headdim": 64,
                "n_mamba_heads": 64, "num_attention_heads": 32, "num_key_value_heads": 32,
                "intermediate_size": 8192, "use_shared_attention_adapter": true,
                "adapter_rank": 128, "use_mem_rope": true, "rope_theta": 10000,
                "rms_norm_eps": 1e-5, "vocab_size": 32000, "tie_word_embeddings": true,
            }),
            ("zamba2", "zamba2-2.7b") => json!({
                "architectures": ["Zamba2ForCausalLM"], "hidden_size": 2560,
                "num_hidden_layers": 54,
                "layers_block_type": layer_types(54, &[6, 12, 18, 24, 30, 36, 42, 47, 51]),
                "num_mem_blocks": 2, "mamba_d_state": 64, "mamba_d_conv": 4,
                "mamba_expand": 2, "mamba_ngroups": 1, "mamba_headdim": 64,
                "n_mamba_heads": 80, "num_attention_heads": 32, "num_key_value_heads": 32,
                "intermediate_size": 10240, "use_shared_attention_adapter": false,
                "adapter_rank": 128, "use_mem_rope": true, "rope_theta": 10000,
                "rms_norm_eps": 1e-5, "vocab_size": 32000, "tie_word_embeddings": true,
            }),
            ("zamba2", _) => json!({
                "architectures": ["Zamba2ForCausalLM"], "hidden_size": 64,
                "num_hidden_layers": 4, "layers_block_type": layer_types(4, &[1, 3]),
                "num_mem_blocks": 2, "mamba_d_state": 16, "mamba_d_conv": 4,
                "mamba_expand": 2, "mamba_ngroups": 1, "mamba_headdim": 16,
                "n_mamba_heads": 8, "num_attention_heads": 4, "num_key_value_heads": 4,
                "intermediate_size": 128, "use_shared_attention_adapter": true,
                "adapter_rank": 8, "use_mem_rope": true, "vocab_size": 512,
            }),
            ("llama", "llama-124m") => json!({
                "architectures": ["LlamaForCausalLM"], "hidden_size": 768,
                "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 12,
                "intermediate_size": 2048, "vocab_size": 50304, "tie_word_embeddings": true,
                "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "max_position_embeddings": 4096,
            }),
            _ => json!({
                "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "intermediate_size": 128, "vocab_size": 512, "tie_word_embeddings": true,
                "max_position_embeddings": 4096,
            }),
        };
        if let Some(o) = c.as_object_mut() {
            o.insert("bos_token_id".into(), json!(0));
            o.insert("eos_token_id".into(), json!(0));
        }
        c
    }

    /// The vocabulary size of the shape.
    pub fn vocab(&self) -> usize {
        self.config()["vocab_size"].as_u64().unwrap_or(0) as usize
    }

    /// A GGUF writer for this shape with weights stored as `ty`, drawn from `seed`.
    pub fn writer(&self, ty: OutType, seed: u64) -> Result<GgufWriter<'static>, SynthError> {
        let synthetic = Synthetic::new(
            Box::new(move |name: &str, shape: &[usize]| init(name, shape, seed)),
            // transformers 5.x fused expert tensors: take the per-expert spelling instead.
            Box::new(|name: &str| name.ends_with("experts.gate_up_proj")),
        );
        let dir = Path::new("synthetic").join(format!("{}-{}", self.arch, self.name));
        let hf = HfModel::synthetic(&dir, self.config(), synthetic)?;
        let mut opts = ConvertOptions::new(ty);
        opts.name = Some(format!("synthetic {} {}", self.name, ty));
        let mut w = convert_model(hf, &opts)?;
        let add = |w: &mut GgufWriter, k: &str, v: MetaValue| {
            w.add_kv(k, v).map_err(ConvertError::from_gguf)
        };
        let (tokens, types, merges) = byte_vocab(self.vocab());
        add(
            &mut w,
            "tokenizer.ggml.model",
            MetaValue::String("gpt2".into()),
        )?;
        add(&mut w, "tokenizer.ggml.tokens", MetaValue::from(tokens))?;
        add(&mut w, "tokenizer.ggml.token_type", MetaValue::from(types))?;
        add(&mut w, "tokenizer.ggml.merges", MetaValue::from(merges))?;
        Ok(w)
    }

    /// Writes the model to `out` (through `<out>.tmp`); returns the file size.
    pub fn write(&self, ty: OutType, seed: u64, out: &Path) -> Result<u64, SynthError> {
        self.writer(ty, seed)?
            .write_to_path(out)
            .map_err(|e| ConvertError::from_gguf(e).into())
    }

    /// The whole model file in memory (tests).
    pub fn to_bytes(&self, ty: OutType, seed: u64) -> Result<Vec<u8>, SynthError> {
        self.writer(ty, seed)?
            .into_bytes()
            .map_err(|e| ConvertError::from_gguf(e).into())
    }
}

/// GPT-2's byte → printable-character table (`bytes_to_unicode`).
fn byte_char(b: u8) -> char {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(b) {
        char::from(b)
    } else {
        let n = (0..b).filter(|&x| !printable(x)).count() as u32;
        char::from_u32(256 + n).unwrap_or('?')
    }
}

/// A byte-level BPE vocabulary: the 256 byte tokens, one merge ("Ġ" + "t"), padding tokens
/// (llama.cpp type UNUSED) up to `vocab`.
fn byte_vocab(vocab: usize) -> (Vec<String>, Vec<i32>, Vec<String>) {
    const NORMAL: i32 = 1;
    const UNUSED: i32 = 5;
    let mut tokens: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
    let mut types = vec![NORMAL; tokens.len()];
    let space = byte_char(b' ');
    tokens.push(format!("{space}t"));
    types.push(NORMAL);
    for i in tokens.len()..vocab {
        tokens.push(format!("[PAD{i}]"));
        types.push(UNUSED);
    }
    tokens.truncate(vocab);
    types.truncate(vocab);
    (tokens, types, vec![format!("{space} t")])
}

/// SplitMix64: one independent stream per tensor.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in [-b, b).
    fn sym(&mut self, b: f32) -> f32 {
        (2.0 * self.unit() - 1.0) * b
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Values of checkpoint tensor `name` (PyTorch shape `shape`, row-major).
pub fn init(name: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut r = Rng(fnv(name) ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let ends = |s: &str| name.ends_with(s);
    let last = shape.last().copied().unwrap_or(1).max(1);
    let fill = |r: &mut Rng, b: f32| (0..n).map(|_| r.sym(b)).collect::<Vec<f32>>();
    if ends("norm.weight") || ends("layernorm.weight") || ends("norm_f.weight") {
        vec![1.0; n]
    } else if ends("A_log") {
        if shape.len() == 2 {
            // Mamba-1 [I, N]: A = -(1..=N) per channel (S4D-real).
            (0..n).map(|i| ((i % last) as f32 + 1.0).ln()).collect()
        } else {
            (0..n).map(|_| (1.0 + 15.0 * r.unit()).ln()).collect()
        }
    } else if ends(".D") {
        vec![1.0; n]
    } else if ends("dt_bias") || ends("dt_proj.bias") {
        // dt log-uniform in [1e-3, 1e-1]; the bias is softplus⁻¹(dt).
        let (lo, hi) = (1e-3f32.ln(), 1e-1f32.ln());
        (0..n)
            .map(|_| {
                let dt = (lo + (hi - lo) * r.unit()).exp();
                dt + (-(-dt).exp_m1()).ln()
            })
            .collect()
    } else if ends("conv1d.weight") || ends("conv1d.bias") {
        fill(&mut r, 1.0 / (last as f32).sqrt())
    } else if ends(".bias") {
        vec![0.0; n]
    } else if ends("embeddings.weight") || ends("embedding.weight") || ends("embed_tokens.weight") {
        fill(&mut r, 3f32.sqrt())
    } else {
        // Linear [.., out, in]: PyTorch's default bound 1/sqrt(in).
        fill(&mut r, 1.0 / (last as f32).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_tokens_are_distinct_and_padded() {
        let (tokens, types, merges) = byte_vocab(300);
        assert_eq!(tokens.len(), 300);
        assert_eq!(types.len(), 300);
        let set: std::collections::HashSet<_> = tokens.iter().collect();
        assert_eq!(set.len(), 300);
        assert_eq!(tokens[b'a' as usize], "a");
        assert_eq!(tokens[b' ' as usize], "Ġ");
        assert_eq!(merges, ["Ġ t"]);
    }

    #[test]
    fn init_is_deterministic_and_scaled() {
        let a = init("model.layers.0.mlp.up_proj.weight", &[64, 256], 1);
        assert_eq!(a, init("model.layers.0.mlp.up_proj.weight", &[64, 256], 1));
        assert_ne!(a, init("model.layers.0.mlp.up_proj.weight", &[64, 256], 2));
        assert!(a.iter().all(|v| v.abs() <= 1.0 / 16.0));
        let dt = init("backbone.layers.0.mixer.dt_bias", &[24], 0);
        assert!(dt.iter().all(|&b| {
            let sp = (1.0 + b.exp()).ln();
            (0.9e-3..=0.11).contains(&sp)
        }));
    }

    #[test]
    fn every_shape_has_a_config() {
        for s in SHAPES {
            let c = s.config();
            assert!(c["architectures"][0].is_string(), "{s:?}");
            assert!(s.vocab() > 256, "{s:?}");
            find(s.arch, s.name).unwrap();
        }
        assert!(find("mamba", "nope").is_err());
    }
}
