//! Other spellings of the same checkpoint convert to the same GGUF: sharded safetensors, F16/BF16
//! weights, transformers 5.x fused Jamba experts, 4.x config spellings (Zamba2 "mamba" layer type,
//! top-level `rope_theta`, dt rank "auto"), the original `backbone.embedding` name.

use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::{Value, json};
use weft::convert::{ConvertOptions, OutType, convert_to_bytes};
use weft::gguf::Gguf;
use weft_kernels::quant::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};
use weft_tests::fixtures_dir;

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

fn read_weights(case: &str) -> Tensors {
    let bytes = std::fs::read(fixtures_dir().join(case).join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn write_weights(path: &Path, tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// A folder with `case`'s config (edited by `cfg`) and the given weights in one file.
fn folder(tmp: &Path, case: &str, cfg: impl FnOnce(&mut Value), weights: &Tensors) -> PathBuf {
    let dir = tmp.join(case);
    std::fs::create_dir_all(&dir).unwrap();
    let mut c: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join(case).join("config.json")).unwrap(),
    )
    .unwrap();
    cfg(&mut c);
    std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
    write_weights(&dir.join("model.safetensors"), weights);
    dir
}

fn gguf(dir: &Path, out: OutType) -> Gguf {
    Gguf::from_bytes(convert_to_bytes(dir, &ConvertOptions::new(out)).unwrap()).unwrap()
}

/// Same metadata (except `general.name`) and identical tensors.
fn assert_same(a: &Gguf, b: &Gguf) {
    let meta = |g: &Gguf| -> Vec<String> {
        g.metadata()
            .filter(|(k, _)| *k != "general.name")
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect()
    };
    assert_eq!(meta(a), meta(b));
    assert_eq!(a.tensors().len(), b.tensors().len());
    for t in a.tensors() {
        let u = b
            .tensor(&t.name)
            .unwrap_or_else(|| panic!("{} missing", t.name));
        assert_eq!((&t.dims, t.ty), (&u.dims, u.ty), "{}", t.name);
        assert!(
            a.tensor_bytes(t) == b.tensor_bytes(u),
            "{}: bytes differ",
            t.name
        );
    }
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn sharded_checkpoint_converts_like_the_single_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sharded");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(
        fixtures_dir().join("jamba_a/config.json"),
        dir.join("config.json"),
    )
    .unwrap();
    let all = read_weights("jamba_a");
    let (first, second) = all.split_at(all.len() / 2);
    let files = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ];
    write_weights(&dir.join(files[0]), first);
    write_weights(&dir.join(files[1]), second);
    let map: serde_json::Map<String, Value> = first
        .iter()
        .map(|t| (t.0.clone(), json!(files[0])))
        .chain(second.iter().map(|t| (t.0.clone(), json!(files[1]))))
        .collect();
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        json!({"metadata": {}, "weight_map": map}).to_string(),
    )
    .unwrap();
    assert_same(
        &gguf(&dir, OutType::Q8_0),
        &gguf(&fixtures_dir().join("jamba_a"), OutType::Q8_0),
    );
}

#[test]
fn half_precision_sources_are_widened_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    for (dtype, to_bits, from_bits) in [
        (
            Dtype::BF16,
            f32_to_bf16 as fn(f32) -> u16,
            bf16_to_f32 as fn(u16) -> f32,
        ),
        (Dtype::F16, f32_to_f16, f16_to_f32),
    ] {
        let weights: Tensors = read_weights("llama_a")
            .into_iter()
            .map(|(n, _, s, b)| {
                (
                    n,
                    dtype,
                    s,
                    f32s(&b)
                        .into_iter()
                        .flat_map(|x| to_bits(x).to_le_bytes())
                        .collect(),
                )
            })
            .collect();
        let dir = folder(
            &tmp.path().join(format!("{dtype:?}")),
            "llama_a",
            |_| {},
            &weights,
        );
        let g = gguf(&dir, OutType::F32);
        let v_proj = &weights
            .iter()
            .find(|t| t.0 == "model.layers.1.self_attn.v_proj.weight")
            .unwrap()
            .3;
        let want: Vec<f32> = v_proj
            .chunks_exact(2)
            .map(|c| from_bits(u16::from_le_bytes([c[0], c[1]])))
            .collect();
        assert_eq!(
            g.tensor_f32("blk.1.attn_v.weight").unwrap(),
            want.as_slice(),
            "{dtype:?}"
        );
    }
}

#[test]
fn fused_jamba_experts_match_per_expert_names() {
    let (f, h, e) = (64usize, 48usize, 4usize);
    let mut weights = Tensors::new();
    let mut fused: std::collections::BTreeMap<usize, [Vec<Vec<f32>>; 3]> = Default::default();
    for (name, d, s, b) in read_weights("jamba_a") {
        let Some(rest) = name.strip_prefix("model.layers.") else {
            weights.push((name, d, s, b));
            continue;
        };
        let (layer, rest) = rest.split_once('.').unwrap();
        let Some(ex) = rest.strip_prefix("feed_forward.experts.") else {
            weights.push((name, d, s, b));
            continue;
        };
        let (idx, proj) = ex.split_once('.').unwrap();
        let slot = fused
            .entry(layer.parse().unwrap())
            .or_insert_with(|| [vec![vec![]; e], vec![vec![]; e], vec![vec![]; e]]);
        let v = f32s(&b);
        let i: usize = idx.parse().unwrap();
        match proj {
            "gate_proj.weight" => slot[0][i] = v,
            "up_proj.weight" => slot[1][i] = v,
            "down_proj.weight" => slot[2][i] = v,
            other => panic!("{other}"),
        }
    }
    let bytes = |v: Vec<f32>| {
        v.into_iter()
            .flat_map(f32::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    for (layer, [gate, up, down]) in fused {
        // transformers 5.x: gate_up_proj[e] = cat(gate_e, up_e) along rows.
        let gate_up: Vec<f32> = (0..e)
            .flat_map(|i| gate[i].iter().chain(&up[i]).copied().collect::<Vec<_>>())
            .collect();
        let p = format!("model.layers.{layer}.feed_forward.experts.");
        weights.push((
            format!("{p}gate_up_proj"),
            Dtype::F32,
            vec![e, 2 * f, h],
            bytes(gate_up),
        ));
        weights.push((
            format!("{p}down_proj"),
            Dtype::F32,
            vec![e, h, f],
            bytes(down.concat()),
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = folder(tmp.path(), "jamba_a", |_| {}, &weights);
    assert_same(
        &gguf(&dir, OutType::F32),
        &gguf(&fixtures_dir().join("jamba_a"), OutType::F32),
    );
}

#[test]
fn transformers_4_config_spellings() {
    let tmp = tempfile::tempdir().unwrap();
    // Zamba2: "mamba" layer type, top-level rope_theta, no derived keys.
    let dir = folder(
        tmp.path(),
        "zamba2_a",
        |c| {
            let types: Vec<Value> = c["layers_block_type"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    if t == "linear_attention" {
                        json!("mamba")
                    } else {
                        t.clone()
                    }
                })
                .collect();
            c["layers_block_type"] = Value::Array(types);
            let theta = c["rope_parameters"]["rope_theta"].clone();
            let o = c.as_object_mut().unwrap();
            for k in [
                "rope_parameters",
                "hybrid_layer_ids",
                "attention_head_dim",
                "mamba_headdim",
                "tie_word_embeddings",
            ] {
                o.remove(k);
            }
            o.insert("rope_theta".into(), theta);
        },
        &read_weights("zamba2_a"),
    );
    assert_same(
        &gguf(&dir, OutType::F16),
        &gguf(&fixtures_dir().join("zamba2_a"), OutType::F16),
    );

    // Mamba: dt rank "auto" (= ceil(48/16) = 3) and the original `backbone.embedding` name.
    let weights: Tensors = read_weights("mamba1_b")
        .into_iter()
        .map(|(n, d, s, b)| {
            (
                n.replace("backbone.embeddings.", "backbone.embedding."),
                d,
                s,
                b,
            )
        })
        .collect();
    let dir = folder(
        tmp.path(),
        "mamba1_b",
        |c| c["time_step_rank"] = json!("auto"),
        &weights,
    );
    assert_same(
        &gguf(&dir, OutType::Q4_0),
        &gguf(&fixtures_dir().join("mamba1_b"), OutType::Q4_0),
    );
}

#[test]
fn tied_models_ignore_a_stored_lm_head() {
    // transformers ignores lm_head.weight when tie_word_embeddings is true; so does the converter.
    let mut weights = read_weights("llama_b");
    let embed = weights
        .iter()
        .find(|t| t.0 == "model.embed_tokens.weight")
        .unwrap()
        .clone();
    weights.push(("lm_head.weight".into(), embed.1, embed.2, embed.3));
    let tmp = tempfile::tempdir().unwrap();
    let dir = folder(tmp.path(), "llama_b", |_| {}, &weights);
    let g = gguf(&dir, OutType::F32);
    assert!(g.tensor("output.weight").is_none());
    let out = tmp.path().join("tied.gguf");
    let summary =
        weft::convert::convert_to_path(&dir, &out, &ConvertOptions::new(OutType::F32)).unwrap();
    assert_eq!(summary.unused_tensors, ["lm_head.weight"]);
    assert_same(&g, &gguf(&fixtures_dir().join("llama_b"), OutType::F32));
}
