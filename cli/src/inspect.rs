//! `weft inspect <file.gguf> [--json]`: architecture, hyper-parameters, layer plan, tensor table
//! with totals per type, tokenizer summary. The text view is printed from the same report as the
//! JSON, so the two never disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Map, Value, json};
use weft::gguf::{Gguf, GgufError, MetaArray, MetaValue};

use crate::CliResult;

#[derive(clap::Args)]
pub struct Args {
    /// GGUF file to describe.
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> CliResult {
    // I/O errors already name the file; format errors name only the offset or key.
    let g = Gguf::open(&args.file).map_err(|e| match e {
        GgufError::Io { .. } => Box::new(e) as Box<dyn std::error::Error>,
        e => format!("{}: {e}", args.file.display()).into(),
    })?;
    let report = report(&g, &args.file.display().to_string());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

/// An f32 as the JSON number of its shortest decimal form (1e-5, not 9.999999747378752e-06).
fn f32_json(x: f32) -> Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn array_json(a: &MetaArray) -> Value {
    fn all<T>(v: &[T], f: impl Fn(&T) -> Value) -> Value {
        Value::Array(v.iter().map(f).collect())
    }
    match a {
        MetaArray::U8(v) => all(v, |x| json!(x)),
        MetaArray::I8(v) => all(v, |x| json!(x)),
        MetaArray::U16(v) => all(v, |x| json!(x)),
        MetaArray::I16(v) => all(v, |x| json!(x)),
        MetaArray::U32(v) => all(v, |x| json!(x)),
        MetaArray::I32(v) => all(v, |x| json!(x)),
        MetaArray::U64(v) => all(v, |x| json!(x)),
        MetaArray::I64(v) => all(v, |x| json!(x)),
        MetaArray::F32(v) => all(v, |x| f32_json(*x)),
        MetaArray::F64(v) => all(v, |x| json!(x)),
        MetaArray::Bool(v) => all(v, |x| json!(x)),
        MetaArray::String(v) => all(v, |x| json!(x)),
        MetaArray::Array(v) => all(v, array_json),
    }
}

fn meta_json(v: &MetaValue) -> Value {
    match v {
        MetaValue::U8(x) => json!(x),
        MetaValue::I8(x) => json!(x),
        MetaValue::U16(x) => json!(x),
        MetaValue::I16(x) => json!(x),
        MetaValue::U32(x) => json!(x),
        MetaValue::I32(x) => json!(x),
        MetaValue::U64(x) => json!(x),
        MetaValue::I64(x) => json!(x),
        MetaValue::F32(x) => f32_json(*x),
        MetaValue::F64(x) => json!(x),
        MetaValue::Bool(x) => json!(x),
        MetaValue::String(x) => json!(x),
        MetaValue::Array(a) => array_json(a),
    }
}

/// llama.cpp's `LLAMA_FTYPE` names for the common file types.
fn file_type_name(ft: u32) -> &'static str {
    match ft {
        0 => "all F32",
        1 => "mostly F16",
        2 => "mostly Q4_0",
        3 => "mostly Q4_1",
        7 => "mostly Q8_0",
        8 => "mostly Q5_0",
        9 => "mostly Q5_1",
        10 => "mostly Q2_K",
        11 => "mostly Q3_K_S",
        12 => "mostly Q3_K_M",
        13 => "mostly Q3_K_L",
        14 => "mostly Q4_K_S",
        15 => "mostly Q4_K_M",
        16 => "mostly Q5_K_S",
        17 => "mostly Q5_K_M",
        18 => "mostly Q6_K",
        32 => "mostly BF16",
        _ => "other",
    }
}

/// Per block index, the tensor names under `blk.N.` with that prefix removed.
fn blocks(g: &Gguf) -> BTreeMap<usize, BTreeSet<&str>> {
    let mut out: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
    for t in g.tensors() {
        let Some(rest) = t.name.strip_prefix("blk.") else {
            continue;
        };
        if let Some((i, suffix)) = rest.split_once('.')
            && let Ok(i) = i.parse()
        {
            out.entry(i).or_default().insert(suffix);
        }
    }
    out
}

/// One entry per layer, derived from tensor presence (works for llama.cpp files of any hybrid
/// architecture) plus the zamba2 call-site metadata.
fn layer_plan(g: &Gguf, arch: &str) -> Vec<Value> {
    let by_block = blocks(g);
    let n = g
        .opt_u32(&format!("{arch}.block_count"))
        .ok()
        .flatten()
        .map(|n| n as usize)
        .unwrap_or_else(|| by_block.keys().max().map_or(0, |m| m + 1));
    let hybrid = g
        .opt_u32_array(&format!("{arch}.hybrid_layers"))
        .ok()
        .flatten()
        .unwrap_or_default();
    let block_map = g
        .opt_u32_array(&format!("{arch}.shared_block_map"))
        .ok()
        .flatten()
        .unwrap_or_default();
    let empty = BTreeSet::new();
    (0..n)
        .map(|i| {
            let has = by_block.get(&i).unwrap_or(&empty);
            let ssm = if has.contains("ssm_x.weight") {
                Some("mamba")
            } else if has.contains("ssm_in.weight") {
                Some("mamba2")
            } else {
                None
            };
            let attn = has.contains("attn_q.weight") || has.contains("attn_qkv.weight");
            let mixer = match (ssm, attn) {
                (Some(s), false) => s.to_string(),
                (Some(s), true) => format!("{s}+attention"),
                (None, true) => "attention".to_string(),
                (None, false) => "none".to_string(),
            };
            let mut entry = Map::new();
            entry.insert("index".into(), json!(i));
            if let Some(j) = hybrid.iter().position(|&l| l as usize == i) {
                entry.insert("kind".into(), json!("hybrid"));
                entry.insert("call_site".into(), json!(j));
                entry.insert("shared_block".into(), json!(block_map.get(j)));
            } else {
                entry.insert("kind".into(), json!(mixer));
            }
            entry.insert("mixer".into(), json!(mixer));
            let (ffn, experts) = if has.contains("ffn_gate_inp.weight") {
                let experts = g
                    .tensor(&format!("blk.{i}.ffn_up_exps.weight"))
                    .and_then(|t| t.dims.get(2).copied());
                ("moe", experts)
            } else if has.contains("ffn_up.weight") || has.contains("ffn_down.weight") {
                ("dense", None)
            } else {
                ("none", None)
            };
            entry.insert("ffn".into(), json!(ffn));
            if let Some(e) = experts {
                entry.insert("experts".into(), json!(e));
            }
            Value::Object(entry)
        })
        .collect()
}

/// zamba2-style shared blocks (`shared.B.*`) with the call sites and layers that use them.
fn shared_blocks(g: &Gguf, layers: &[Value]) -> Vec<Value> {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for t in g.tensors() {
        if let Some((b, _)) = t
            .name
            .strip_prefix("shared.")
            .and_then(|r| r.split_once('.'))
            && let Ok(b) = b.parse()
        {
            *counts.entry(b).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(b, tensors)| {
            let users: Vec<&Value> = layers
                .iter()
                .filter(|l| l["shared_block"] == json!(b))
                .collect();
            json!({
                "block": b,
                "tensors": tensors,
                "call_sites": users.iter().map(|l| l["call_site"].clone()).collect::<Vec<_>>(),
                "layers": users.iter().map(|l| l["index"].clone()).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn tokenizer(g: &Gguf) -> Value {
    let tokens = g.opt_str_array("tokenizer.ggml.tokens").ok().flatten();
    let id = |k: &str| g.opt_u32(k).ok().flatten();
    json!({
        "model": g.opt_str("tokenizer.ggml.model").ok().flatten(),
        "vocab_size": tokens.map(<[String]>::len),
        "merges": g.opt_str_array("tokenizer.ggml.merges").ok().flatten().map(<[String]>::len),
        "bos_token_id": id("tokenizer.ggml.bos_token_id"),
        "eos_token_id": id("tokenizer.ggml.eos_token_id"),
        "has_hf_json": g.get("tokenizer.huggingface.json").is_some(),
        "has_chat_template": g.get("tokenizer.chat_template").is_some(),
    })
}

/// The whole description as one JSON object.
fn report(g: &Gguf, file: &str) -> Value {
    let arch = g
        .opt_str("general.architecture")
        .ok()
        .flatten()
        .unwrap_or("unknown")
        .to_string();
    let prefix = format!("{arch}.");
    let pick = |f: &dyn Fn(&str) -> bool| -> Map<String, Value> {
        g.metadata()
            .filter(|(k, _)| f(k))
            .map(|(k, v)| (k.to_string(), meta_json(v)))
            .collect()
    };
    let hparams = pick(&|k| k.starts_with(&prefix));
    let general = pick(&|k| k.starts_with("general."));
    let layers = layer_plan(g, &arch);
    let shared = shared_blocks(g, &layers);
    let mut by_type: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let tensors: Vec<Value> = g
        .tensors()
        .iter()
        .map(|t| {
            let e = by_type.entry(t.ty.name().to_string()).or_default();
            *e = (e.0 + 1, e.1 + t.n_elements() as u64, e.2 + t.n_bytes);
            json!({"name": t.name, "type": t.ty.name(), "dims": t.dims, "bytes": t.n_bytes})
        })
        .collect();
    let totals: Map<String, Value> = by_type
        .iter()
        .map(|(ty, (n, el, b))| {
            (
                ty.clone(),
                json!({"tensors": n, "elements": el, "bytes": b}),
            )
        })
        .collect();
    let file_type = g.opt_u32("general.file_type").ok().flatten();
    json!({
        "file": file,
        "gguf_version": g.version(),
        "file_bytes": g.as_bytes().len(),
        "alignment": g.alignment(),
        "architecture": arch,
        "name": g.opt_str("general.name").ok().flatten(),
        "file_type": file_type,
        "file_type_name": file_type.map(file_type_name),
        "general": general,
        "hparams": hparams,
        "layers": layers,
        "shared_blocks": shared,
        "tensors": tensors,
        "totals": {
            "tensors": g.tensors().len(),
            "elements": by_type.values().map(|v| v.1).sum::<u64>(),
            "bytes": by_type.values().map(|v| v.2).sum::<u64>(),
            "by_type": totals,
        },
        "tokenizer": tokenizer(g),
        "metadata_keys": g.metadata().len(),
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_text(r: &Value) {
    println!(
        "{}: GGUF v{}, {} ({} bytes), alignment {}",
        show(&r["file"]),
        r["gguf_version"],
        mib(r["file_bytes"].as_u64().unwrap_or(0)),
        r["file_bytes"],
        r["alignment"]
    );
    println!(
        "architecture {}  name {}  file type {} ({})",
        show(&r["architecture"]),
        show(&r["name"]),
        show(&r["file_type"]),
        show(&r["file_type_name"])
    );
    println!("\nhyper-parameters:");
    for (k, v) in r["hparams"].as_object().into_iter().flatten() {
        println!("  {k} = {v}");
    }
    println!("\nlayers:");
    for l in r["layers"].as_array().into_iter().flatten() {
        let what = if l["kind"] == "hybrid" {
            format!(
                "hybrid: {} + call site {} → shared block {}",
                show(&l["mixer"]),
                l["call_site"],
                show(&l["shared_block"])
            )
        } else {
            show(&l["mixer"])
        };
        let ffn = match &l["experts"] {
            Value::Null => show(&l["ffn"]),
            e => format!("{} ({e} experts)", show(&l["ffn"])),
        };
        println!("  {:>3}  {what:<48} ffn {ffn}", l["index"]);
    }
    for b in r["shared_blocks"].as_array().into_iter().flatten() {
        println!(
            "  shared block {}: {} tensors, call sites {} (layers {})",
            b["block"], b["tensors"], b["call_sites"], b["layers"]
        );
    }
    println!("\ntensors:");
    let tensors = r["tensors"].as_array().cloned().unwrap_or_default();
    let width = tensors
        .iter()
        .filter_map(|t| t["name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(4);
    for t in &tensors {
        let dims: Vec<String> = t["dims"]
            .as_array()
            .into_iter()
            .flatten()
            .map(Value::to_string)
            .collect();
        println!(
            "  {:<width$}  {:<5} {:<22} {:>12}",
            show(&t["name"]),
            show(&t["type"]),
            format!("{{{}}}", dims.join(", ")),
            t["bytes"]
        );
    }
    let totals = &r["totals"];
    println!("\ntotals:");
    for (ty, t) in totals["by_type"].as_object().into_iter().flatten() {
        println!(
            "  {ty:<5} {:>5} tensors {:>12} elements {:>12}",
            t["tensors"],
            t["elements"],
            mib(t["bytes"].as_u64().unwrap_or(0))
        );
    }
    println!(
        "  all   {:>5} tensors {:>12} elements {:>12}",
        totals["tensors"],
        totals["elements"],
        mib(totals["bytes"].as_u64().unwrap_or(0))
    );
    let tok = &r["tokenizer"];
    println!(
        "\ntokenizer: model {}, vocab {}, merges {}, bos {}, eos {}, HF tokenizer.json {}, chat template {}",
        show(&tok["model"]),
        show(&tok["vocab_size"]),
        show(&tok["merges"]),
        show(&tok["bos_token_id"]),
        show(&tok["eos_token_id"]),
        if tok["has_hf_json"] == true {
            "yes"
        } else {
            "no"
        },
        if tok["has_chat_template"] == true {
            "yes"
        } else {
            "no"
        }
    );
}
