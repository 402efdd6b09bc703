//! Every reference fixture converts to f32/f16/q8_0/q4_0; the files read back with the expected
//! tensor names, GGML dims, storage types (llama.cpp's policy) and values. The expectations are
//! derived here independently of the converter: a rename table from Hugging Face names plus the
//! documented transforms (−exp(A_log), conv squeeze, Mamba-2 A/D/norm reshapes, Llama q/k row
//! permutation, Jamba expert stacking, Zamba2 shared-block/adapter placement).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::SafeTensors;
use serde_json::Value;
use weft::convert::{ConvertOptions, OutType, convert_to_bytes};
use weft::gguf::{GgmlType, Gguf};
use weft_kernels::quant::dequantize;
use weft_tests::fixtures_dir;

const CASES: [&str; 10] = [
    "mamba1_a", "mamba1_b", "mamba2_a", "mamba2_b", "jamba_a", "jamba_b", "zamba2_a", "zamba2_b",
    "llama_a", "llama_b",
];

/// One expected GGUF tensor: GGML dims and f32 values in GGML order.
#[derive(Debug, Default)]
struct Want {
    dims: Vec<u64>,
    values: Vec<f32>,
}

struct Case {
    config: Value,
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Case {
    fn load(dir: &Path) -> Case {
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                assert_eq!(view.dtype(), safetensors::Dtype::F32, "fixtures are F32");
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        Case { config, tensors }
    }

    fn cfg(&self, key: &str) -> Option<&Value> {
        self.config.get(key).filter(|v| !v.is_null())
    }

    fn usize(&self, key: &str) -> usize {
        self.cfg(key)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("config {key}")) as usize
    }

    fn tied(&self, default: bool) -> bool {
        self.cfg("tie_word_embeddings")
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }
}

fn rev(shape: &[usize]) -> Vec<u64> {
    shape.iter().rev().map(|&d| d as u64).collect()
}

/// Mixer tensor suffix → GGUF suffix, shared by the SSM architectures.
fn mixer_name(suffix: &str) -> Option<&'static str> {
    Some(match suffix {
        "in_proj.weight" => "ssm_in.weight",
        "in_proj.bias" => "ssm_in.bias",
        "conv1d.weight" => "ssm_conv1d.weight",
        "conv1d.bias" => "ssm_conv1d.bias",
        "x_proj.weight" => "ssm_x.weight",
        "dt_proj.weight" => "ssm_dt.weight",
        "dt_proj.bias" | "dt_bias" => "ssm_dt.bias",
        "A_log" => "ssm_a",
        "D" => "ssm_d",
        "norm.weight" => "ssm_norm.weight",
        "out_proj.weight" => "ssm_out.weight",
        "out_proj.bias" => "ssm_out.bias",
        "dt_layernorm.weight" => "ssm_dt_norm.weight",
        "b_layernorm.weight" => "ssm_b_norm.weight",
        "c_layernorm.weight" => "ssm_c_norm.weight",
        _ => return None,
    })
}

/// A mixer tensor with its transform. `groups` is Some(G) for Mamba-2 style mixers.
fn mixer(
    blk: usize,
    suffix: &str,
    shape: &[usize],
    v: &[f32],
    groups: Option<usize>,
) -> (String, Want) {
    let gguf = mixer_name(suffix).unwrap_or_else(|| panic!("unexpected mixer tensor {suffix}"));
    let mut w = Want {
        dims: rev(shape),
        values: v.to_vec(),
    };
    match (gguf, groups) {
        ("ssm_conv1d.weight", _) => w.dims = vec![shape[2] as u64, shape[0] as u64],
        ("ssm_a", g) => {
            w.values = v.iter().map(|&x| -(f64::from(x).exp()) as f32).collect();
            if g.is_some() {
                w.dims = vec![1, shape[0] as u64];
            }
        }
        ("ssm_d", Some(_)) => w.dims = vec![1, shape[0] as u64],
        ("ssm_norm.weight", Some(g)) => w.dims = vec![(shape[0] / g) as u64, g as u64],
        _ => {}
    }
    (format!("blk.{blk}.{gguf}"), w)
}

/// `model.layers.{i}.rest` / `backbone.layers.{i}.rest` → (i, rest).
fn layer(name: &str, prefix: &str) -> Option<(usize, String)> {
    let rest = name.strip_prefix(prefix)?;
    let (i, rest) = rest.split_once('.')?;
    Some((i.parse().ok()?, rest.to_string()))
}

/// Output row r of llama.cpp's permutation takes input row `h·hd + s·hd/2 + i` where
/// r = h·hd + 2i + s.
fn llama_permute(v: &[f32], rows: usize, heads: usize) -> Vec<f32> {
    let cols = v.len() / rows;
    let hd = rows / heads;
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        let (h, within) = (r / hd, r % hd);
        let src = h * hd + (within % 2) * (hd / 2) + within / 2;
        out[r * cols..(r + 1) * cols].copy_from_slice(&v[src * cols..(src + 1) * cols]);
    }
    out
}

fn expected(c: &Case) -> BTreeMap<String, Want> {
    let arch = c.config["architectures"][0].as_str().unwrap();
    let mut out = BTreeMap::new();
    let mut experts: BTreeMap<String, BTreeMap<usize, Vec<f32>>> = BTreeMap::new();
    let mut expert_shape = BTreeMap::new();
    let plain = |shape: &[usize], v: &[f32]| Want {
        dims: rev(shape),
        values: v.to_vec(),
    };
    for (name, (shape, v)) in &c.tensors {
        let (gguf, want) = match arch {
            "MambaForCausalLM" | "Mamba2ForCausalLM" => {
                let m2 = arch == "Mamba2ForCausalLM";
                let groups = m2.then(|| c.usize("n_groups"));
                if let Some((i, rest)) = layer(name, "backbone.layers.") {
                    match rest.strip_prefix("mixer.") {
                        Some(s) => mixer(i, s, shape, v, groups),
                        None => {
                            assert_eq!(rest, "norm.weight");
                            (format!("blk.{i}.attn_norm.weight"), plain(shape, v))
                        }
                    }
                } else {
                    let g = match name.as_str() {
                        "backbone.embeddings.weight" => "token_embd.weight",
                        "backbone.norm_f.weight" => "output_norm.weight",
                        "lm_head.weight" if c.tied(!m2) => continue,
                        "lm_head.weight" => "output.weight",
                        other => panic!("unexpected {other}"),
                    };
                    (g.to_string(), plain(shape, v))
                }
            }
            "JambaForCausalLM" => {
                if let Some((i, rest)) = layer(name, "model.layers.") {
                    if let Some(s) = rest.strip_prefix("mamba.") {
                        mixer(i, s, shape, v, None)
                    } else if let Some(e) = rest.strip_prefix("feed_forward.experts.") {
                        let (e, proj) = e.split_once('.').unwrap();
                        let g = match proj {
                            "gate_proj.weight" => "ffn_gate_exps",
                            "up_proj.weight" => "ffn_up_exps",
                            "down_proj.weight" => "ffn_down_exps",
                            other => panic!("unexpected expert tensor {other}"),
                        };
                        let key = format!("blk.{i}.{g}.weight");
                        experts
                            .entry(key.clone())
                            .or_default()
                            .insert(e.parse().unwrap(), v.clone());
                        expert_shape.insert(key, shape.clone());
                        continue;
                    } else {
                        let g = match rest.as_str() {
                            "input_layernorm.weight" => "attn_norm.weight",
                            "pre_ff_layernorm.weight" => "ffn_norm.weight",
                            "self_attn.q_proj.weight" => "attn_q.weight",
                            "self_attn.k_proj.weight" => "attn_k.weight",
                            "self_attn.v_proj.weight" => "attn_v.weight",
                            "self_attn.o_proj.weight" => "attn_output.weight",
                            "feed_forward.gate_proj.weight" => "ffn_gate.weight",
                            "feed_forward.up_proj.weight" => "ffn_up.weight",
                            "feed_forward.down_proj.weight" => "ffn_down.weight",
                            "feed_forward.router.weight" => "ffn_gate_inp.weight",
                            other => panic!("unexpected {other}"),
                        };
                        (format!("blk.{i}.{g}"), plain(shape, v))
                    }
                } else {
                    global(name, c.tied(false))
                        .map(|g| (g, plain(shape, v)))
                        .unwrap_or_default()
                }
            }
            "Zamba2ForCausalLM" => {
                let groups = Some(c.usize("mamba_ngroups"));
                let hybrid: Vec<usize> = c.config["hybrid_layer_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as usize)
                    .collect();
                let blocks = c.usize("num_mem_blocks");
                if let Some((i, rest)) = layer(name, "model.layers.") {
                    if let Some(s) = rest
                        .strip_prefix("mamba.")
                        .or_else(|| rest.strip_prefix("mamba_decoder.mamba."))
                    {
                        mixer(i, s, shape, v, groups)
                    } else if rest == "input_layernorm.weight"
                        || rest == "mamba_decoder.input_layernorm.weight"
                    {
                        (format!("blk.{i}.attn_norm.weight"), plain(shape, v))
                    } else if rest == "linear.weight" {
                        (format!("blk.{i}.shared_linear.weight"), plain(shape, v))
                    } else if let Some(s) = rest.strip_prefix("shared_transformer.") {
                        zamba2_shared(i, s, &hybrid, blocks, plain(shape, v))
                    } else {
                        panic!("unexpected {name}")
                    }
                } else {
                    global(name, c.tied(true))
                        .map(|g| (g, plain(shape, v)))
                        .unwrap_or_default()
                }
            }
            "LlamaForCausalLM" => {
                if let Some((i, rest)) = layer(name, "model.layers.") {
                    let heads = c.usize("num_attention_heads");
                    let kv = c.usize("num_key_value_heads");
                    let (g, want) = match rest.as_str() {
                        "input_layernorm.weight" => ("attn_norm.weight", plain(shape, v)),
                        "post_attention_layernorm.weight" => ("ffn_norm.weight", plain(shape, v)),
                        "self_attn.q_proj.weight" => (
                            "attn_q.weight",
                            Want {
                                dims: rev(shape),
                                values: llama_permute(v, shape[0], heads),
                            },
                        ),
                        "self_attn.k_proj.weight" => (
                            "attn_k.weight",
                            Want {
                                dims: rev(shape),
                                values: llama_permute(v, shape[0], kv),
                            },
                        ),
                        "self_attn.v_proj.weight" => ("attn_v.weight", plain(shape, v)),
                        "self_attn.o_proj.weight" => ("attn_output.weight", plain(shape, v)),
                        "mlp.gate_proj.weight" => ("ffn_gate.weight", plain(shape, v)),
                        "mlp.up_proj.weight" => ("ffn_up.weight", plain(shape, v)),
                        "mlp.down_proj.weight" => ("ffn_down.weight", plain(shape, v)),
                        other => panic!("unexpected {other}"),
                    };
                    (format!("blk.{i}.{g}"), want)
                } else {
                    let g = match name.as_str() {
                        "model.embed_tokens.weight" => "token_embd.weight",
                        "model.norm.weight" => "output_norm.weight",
                        "lm_head.weight" if c.tied(false) => continue,
                        "lm_head.weight" => "output.weight",
                        other => panic!("unexpected {other}"),
                    };
                    (g.to_string(), plain(shape, v))
                }
            }
            other => panic!("no expectations for {other}"),
        };
        if !gguf.is_empty() {
            assert!(
                out.insert(gguf.clone(), want).is_none(),
                "two sources for {gguf}"
            );
        }
    }
    // Experts: stacked along a new outermost dimension in expert order.
    for (name, by_expert) in experts {
        let shape = &expert_shape[&name];
        let mut dims = rev(shape);
        dims.push(by_expert.len() as u64);
        let values = by_expert.into_values().flatten().collect();
        out.insert(name, Want { dims, values });
    }
    out
}

/// Global tensors of the `model.*` architectures; `None` for a tied (ignored) LM head.
fn global(name: &str, tied: bool) -> Option<String> {
    Some(
        match name {
            "model.embed_tokens.weight" => "token_embd.weight",
            "model.final_layernorm.weight" => "output_norm.weight",
            "lm_head.weight" if tied => return None,
            "lm_head.weight" => "output.weight",
            other => panic!("unexpected {other}"),
        }
        .to_string(),
    )
}

/// A tensor under hybrid layer `l`'s `shared_transformer.`: an adapter of call site j goes to
/// `blk.{hybrid[j]}`, anything else to `shared.{b}` where b = (position of l in hybrid) mod blocks.
fn zamba2_shared(l: usize, s: &str, hybrid: &[usize], blocks: usize, want: Want) -> (String, Want) {
    for (list, gguf) in [
        ("self_attn.linear_q_adapter_list.", "attn_q_lora"),
        ("self_attn.linear_k_adapter_list.", "attn_k_lora"),
        ("self_attn.linear_v_adapter_list.", "attn_v_lora"),
        (
            "feed_forward.gate_up_proj_adapter_list.",
            "ffn_gate_up_lora",
        ),
    ] {
        if let Some(rest) = s.strip_prefix(list) {
            let (j, rest) = rest.split_once('.').unwrap();
            let ab = match rest {
                "0.weight" => "a",
                "1.weight" => "b",
                other => panic!("unexpected adapter tensor {other}"),
            };
            let j: usize = j.parse().unwrap();
            return (format!("blk.{}.{gguf}_{ab}.weight", hybrid[j]), want);
        }
    }
    let b = hybrid.iter().position(|&h| h == l).unwrap() % blocks;
    let g = match s {
        "input_layernorm.weight" => "attn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "pre_ff_layernorm.weight" => "ffn_norm.weight",
        "feed_forward.gate_up_proj.weight" => "ffn_gate_up.weight",
        "feed_forward.down_proj.weight" => "ffn_down.weight",
        other => panic!("unexpected shared tensor {other}"),
    };
    (format!("shared.{b}.{g}"), want)
}

/// llama.cpp's storage rule, restated: norms, 1-D tensors, non-`.weight` tensors, conv kernels and
/// routers F32; matrices the requested type, F16 when ne0 is not a multiple of 32.
fn policy_type(name: &str, dims: &[u64], out: OutType) -> GgmlType {
    let keep_f32 = dims.len() == 1
        || !name.ends_with(".weight")
        || name.ends_with("_norm.weight")
        || name.contains(".ssm_conv1d.")
        || name.contains(".ffn_gate_inp.");
    match out {
        _ if keep_f32 => GgmlType::F32,
        OutType::F32 => GgmlType::F32,
        OutType::F16 => GgmlType::F16,
        _ if !dims[0].is_multiple_of(32) => GgmlType::F16,
        OutType::Q8_0 => GgmlType::Q8_0,
        OutType::Q4_0 => GgmlType::Q4_0,
    }
}

/// Checks dequantized `got` against `want` within the format's error bound.
fn assert_close(name: &str, ty: GgmlType, want: &[f32], got: &[f32]) {
    assert_eq!(want.len(), got.len(), "{name}: element count");
    match ty {
        GgmlType::F32 => {
            if let Some(i) = (0..want.len()).find(|&i| want[i].to_bits() != got[i].to_bits()) {
                panic!(
                    "{name}: element {i} is {} but the checkpoint gives {}",
                    got[i], want[i]
                );
            }
        }
        GgmlType::F16 => {
            for (i, (&w, &g)) in want.iter().zip(got).enumerate() {
                // Round-to-nearest f16: relative error ≤ 2^-11 (normal), absolute ≤ 2^-25 (subnormal).
                let bound = w.abs() * 2f32.powi(-11) + 2f32.powi(-25);
                assert!((w - g).abs() <= bound, "{name}[{i}]: {g} vs {w} (F16)");
            }
        }
        GgmlType::Q8_0 | GgmlType::Q4_0 => {
            // Per block of 32: Q8_0 step amax/127 (error ≤ half a step), Q4_0 step amax/8 (error ≤
            // one step, the extreme value clamps); plus the f16 rounding of the scale.
            let steps = if ty == GgmlType::Q8_0 {
                0.5 / 127.0
            } else {
                1.0 / 8.0
            };
            for (b, (wb, gb)) in want.chunks(32).zip(got.chunks(32)).enumerate() {
                let amax = wb.iter().fold(0f32, |m, x| m.max(x.abs()));
                let bound = amax * (steps + 2f32.powi(-10)) + 1e-7;
                for (k, (&w, &g)) in wb.iter().zip(gb).enumerate() {
                    assert!(
                        (w - g).abs() <= bound,
                        "{name}[{}]: {g} vs {w} ({ty})",
                        b * 32 + k
                    );
                }
            }
        }
        other => panic!("{name}: unexpected type {other}"),
    }
}

fn check_case(case: &str) {
    let dir = fixtures_dir().join(case);
    let c = Case::load(&dir);
    let want = expected(&c);
    for out in OutType::ALL {
        let g =
            Gguf::from_bytes(convert_to_bytes(&dir, &ConvertOptions::new(out)).unwrap()).unwrap();
        let mut got: Vec<&str> = g.tensors().iter().map(|t| t.name.as_str()).collect();
        got.sort_unstable();
        let names: Vec<&str> = want.keys().map(String::as_str).collect();
        assert_eq!(got, names, "{case} {out}: tensor names");
        for (name, w) in &want {
            let t = g.tensor(name).unwrap();
            assert_eq!(t.dims, w.dims, "{case} {out}: {name} dims");
            assert_eq!(
                t.ty,
                policy_type(name, &t.dims, out),
                "{case} {out}: {name} type"
            );
            let mut values = vec![0f32; t.n_elements()];
            dequantize(t.ty, g.tensor_bytes(t), &mut values).unwrap();
            assert_close(&format!("{case} {out}: {name}"), t.ty, &w.values, &values);
        }
        assert_eq!(g.get_u32("general.file_type").unwrap(), out.file_type());
        assert_eq!(g.get_u32("general.quantization_version").unwrap(), 2);
    }
}

#[test]
fn mamba1_fixtures() {
    check_case("mamba1_a");
    check_case("mamba1_b");
}

#[test]
fn mamba2_fixtures() {
    check_case("mamba2_a");
    check_case("mamba2_b");
}

#[test]
fn jamba_fixtures() {
    check_case("jamba_a");
    check_case("jamba_b");
}

#[test]
fn zamba2_fixtures() {
    check_case("zamba2_a");
    check_case("zamba2_b");
}

#[test]
fn llama_fixtures() {
    check_case("llama_a");
    check_case("llama_b");
}

#[test]
fn every_fixture_is_covered() {
    let mut found: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("config.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut cases = CASES.map(String::from).to_vec();
    cases.sort();
    assert_eq!(found, cases, "a new fixture needs a converter test");
}

fn meta(case: &str) -> Gguf {
    let dir = fixtures_dir().join(case);
    Gguf::from_bytes(convert_to_bytes(&dir, &ConvertOptions::new(OutType::F32)).unwrap()).unwrap()
}

#[test]
fn ssm_keys() {
    let g = meta("mamba1_b");
    assert_eq!(g.get_str("general.architecture").unwrap(), "mamba");
    assert_eq!(g.get_str("general.name").unwrap(), "mamba1_b");
    for (k, v) in [
        ("block_count", 2),
        ("embedding_length", 48),
        ("context_length", 1 << 20),
        ("ssm.conv_kernel", 3),
        ("ssm.inner_size", 96),
        ("ssm.state_size", 16),
        ("ssm.time_step_rank", 3),
        ("vocab_size", 301),
    ] {
        assert_eq!(g.get_u32(&format!("mamba.{k}")).unwrap(), v, "mamba.{k}");
    }
    assert_eq!(
        g.get_f32("mamba.attention.layer_norm_rms_epsilon").unwrap(),
        1e-6
    );
    assert!(g.tensor("blk.0.ssm_in.bias").is_some() && g.tensor("output.weight").is_some());

    let g = meta("mamba2_b");
    for (k, v) in [
        ("ssm.time_step_rank", 4),
        ("ssm.group_count", 1),
        ("ssm.inner_size", 64),
        ("vocab_size", 200),
    ] {
        assert_eq!(g.get_u32(&format!("mamba2.{k}")).unwrap(), v, "mamba2.{k}");
    }
    assert!(g.tensor("output.weight").is_none(), "mamba2_b is tied");
}

#[test]
fn jamba_keys() {
    let g = meta("jamba_a");
    assert_eq!(
        g.get_i32_array("jamba.attention.head_count_kv").unwrap(),
        [0, 2, 0, 2]
    );
    for (k, v) in [
        ("expert_count", 4),
        ("expert_used_count", 2),
        ("feed_forward_length", 64),
        ("attention.head_count", 4),
        ("ssm.time_step_rank", 8),
    ] {
        assert_eq!(g.get_u32(&format!("jamba.{k}")).unwrap(), v, "jamba.{k}");
    }
    // MoE iff ffn_gate_inp, attention iff head_count_kv > 0.
    assert!(
        g.tensor("blk.1.ffn_gate_inp.weight").is_some()
            && g.tensor("blk.0.ffn_gate_inp.weight").is_none()
    );
    let g = meta("jamba_b");
    assert_eq!(
        g.get_i32_array("jamba.attention.head_count_kv").unwrap(),
        [1, 0, 0]
    );
    assert!((0..3).all(|i| g.tensor(&format!("blk.{i}.ffn_up_exps.weight")).is_some()));
    assert_eq!(
        g.get_u32("jamba.ssm.time_step_rank").unwrap(),
        2,
        "auto = ceil(32/16)"
    );
}

#[test]
fn zamba2_keys() {
    let g = meta("zamba2_a");
    assert_eq!(g.get_u32_array("zamba2.hybrid_layers").unwrap(), [1, 3, 4]);
    assert_eq!(
        g.get_u32_array("zamba2.shared_block_map").unwrap(),
        [0, 1, 0]
    );
    assert_eq!(g.get_u32("zamba2.shared_block_count").unwrap(), 2);
    assert_eq!(g.get_u32("zamba2.adapter_rank").unwrap(), 4);
    assert!(g.get_bool("zamba2.attention.use_adapter").unwrap());
    assert!(g.get_bool("zamba2.attention.use_rope").unwrap());
    assert_eq!(g.get_u32("zamba2.attention.key_length").unwrap(), 16);
    assert_eq!(g.get_u32("zamba2.ssm.time_step_rank").unwrap(), 4);
    assert_eq!(g.get_u32("zamba2.ssm.group_count").unwrap(), 2);
    assert_eq!(g.get_f32("zamba2.rope.freq_base").unwrap(), 10000.0);
    assert!(
        g.tensor("blk.4.attn_q_lora_a.weight").is_some()
            && g.tensor("shared.2.attn_q.weight").is_none()
    );

    let g = meta("zamba2_b");
    assert_eq!(g.get_u32_array("zamba2.hybrid_layers").unwrap(), [0, 3]);
    assert_eq!(g.get_u32_array("zamba2.shared_block_map").unwrap(), [0, 0]);
    assert_eq!(g.get_u32("zamba2.shared_block_count").unwrap(), 1);
    assert!(!g.get_bool("zamba2.attention.use_adapter").unwrap());
    assert!(!g.get_bool("zamba2.attention.use_rope").unwrap());
    assert_eq!(g.get_f32("zamba2.ssm.time_step_min").unwrap(), 0.02);
    assert_eq!(
        g.get_f32("zamba2.attention.layer_norm_rms_epsilon")
            .unwrap(),
        1e-6
    );
    assert!(
        g.tensor("blk.3.ffn_gate_up_lora_b.weight").is_some()
            && g.tensor("blk.3.attn_q_lora_a.weight").is_none()
    );
}

#[test]
fn llama_keys() {
    let g = meta("llama_b");
    for (k, v) in [
        ("attention.head_count", 4),
        ("attention.head_count_kv", 1),
        ("attention.key_length", 12),
        ("rope.dimension_count", 12),
        ("context_length", 128),
        ("feed_forward_length", 80),
        ("vocab_size", 211),
    ] {
        assert_eq!(g.get_u32(&format!("llama.{k}")).unwrap(), v, "llama.{k}");
    }
    assert_eq!(g.get_f32("llama.rope.freq_base").unwrap(), 500000.0);
    assert!(g.tensor("output.weight").is_none(), "llama_b is tied");
}
