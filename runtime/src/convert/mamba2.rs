//! `Mamba2ForCausalLM` → GGUF `mamba2` (llama.cpp's keys, names and transforms).

use super::ConvertError;
use super::common::{embeddings, output};
use super::config::HfConfig;
use super::plan::Plan;
use super::ssm::{Mamba2Dims, MixerOpts, check_mamba2, mamba2_keys, mamba2_mixer};
use crate::gguf::{MetaArray, MetaValue};

type Result<T> = std::result::Result<T, ConvertError>;

pub const ARCH: &str = "mamba2";

/// Fills `plan` from a Mamba-2 checkpoint (`backbone.*` names).
pub fn fill(plan: &mut Plan) -> Result<()> {
    let c = plan.hf().config().clone();
    let vocab = c.positive_or("vocab_size", 32768)?;
    let tied = c.bool_or("tie_word_embeddings", false)?;
    let hidden = backbone_keys(plan, &c)?;
    plan.arch_u32("vocab_size", vocab)?;

    let embed = plan.first_present(&["backbone.embeddings.weight", "backbone.embedding.weight"])?;
    embeddings(plan, embed, vocab, hidden)?;
    backbone_tensors(plan, &c)?;
    output(plan, "backbone.norm_f.weight", hidden, vocab, tied)
}

/// The weft-defined `Mamba2ForFrameRegression` (tools/train/train_sensor.py): frames in through
/// `frame_in` (Linear frame_dim → E), the Mamba-2 backbone (`backbone.*`, no token embedding),
/// the final norm, and `frame_out` (Linear E → frame_dim) predicting the next frame. Writes
/// `mamba2.frame_dim`, `mamba2.output_kind = "regression"` and the `mamba2.anomaly.*` keys
/// (docs/gguf.md, "Frame models").
pub fn fill_frames(plan: &mut Plan) -> Result<()> {
    let c = plan.hf().config().clone();
    let frame_dim = c.usize("frame_dim")?;
    if frame_dim == 0 {
        return Err(ConvertError::config("frame_dim", "must be positive"));
    }
    let hidden = backbone_keys(plan, &c)?;
    plan.arch_u32("frame_dim", frame_dim)?;
    plan.arch_kv("output_kind", MetaValue::String("regression".into()));
    if let Some(t) = c.get("anomaly_threshold") {
        let t = t
            .as_f64()
            .ok_or_else(|| ConvertError::config("anomaly_threshold", "must be a number"))?;
        plan.arch_f32("anomaly.threshold", t);
    }
    if let Some(v) = c.get("anomaly_error_scale") {
        let scale: Option<Vec<f32>> = v
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_f64().map(|x| x as f32)).collect());
        match scale {
            Some(s) if s.len() == frame_dim && s.iter().all(|&x| x > 0.0) => {
                plan.arch_kv("anomaly.error_scale", MetaValue::Array(MetaArray::F32(s)));
            }
            _ => {
                return Err(ConvertError::config(
                    "anomaly_error_scale",
                    format!("must be {frame_dim} positive numbers (one per frame channel)"),
                ));
            }
        }
    }
    for (hf_key, key) in [
        ("anomaly_warmup", "anomaly.warmup"),
        ("anomaly_context", "anomaly.context"),
    ] {
        if let Some(v) = c.opt_usize(hf_key)? {
            plan.arch_u32(key, v)?;
        }
    }

    plan.copy("frame_in.weight", "frame_in.weight", &[hidden, frame_dim])?;
    if plan.hf().has("frame_in.bias") {
        plan.copy("frame_in.bias", "frame_in.bias", &[hidden])?;
    }
    backbone_tensors(plan, &c)?;
    plan.copy("output_norm.weight", "backbone.norm_f.weight", &[hidden])?;
    plan.copy("frame_out.weight", "frame_out.weight", &[frame_dim, hidden])?;
    if plan.hf().has("frame_out.bias") {
        plan.copy("frame_out.bias", "frame_out.bias", &[frame_dim])?;
    }
    Ok(())
}

/// transformers `Mamba2Config` defaults (note n_groups = 8 and untied embeddings).
fn dims(c: &HfConfig) -> Result<(usize, usize, Mamba2Dims)> {
    let hidden = c.positive_or("hidden_size", 4096)?;
    let layers = c.usize_or("num_hidden_layers", 64)?;
    let expand = c.f64_or("expand", 2.0)?;
    let head_dim = c.positive_or("head_dim", 64)?;
    let d = Mamba2Dims {
        hidden,
        inner: (expand * hidden as f64) as usize,
        state: c.positive_or("state_size", 128)?,
        groups: c.positive_or("n_groups", 8)?,
        heads: c.positive_or("num_heads", 128)?,
        conv_kernel: c.positive_or("conv_kernel", 4)?,
    };
    check_mamba2(&d, "num_heads", "n_groups")?;
    if d.heads * head_dim != d.inner {
        return Err(ConvertError::config(
            "head_dim",
            format!(
                "({head_dim}) × num_heads ({}) must equal expand × hidden_size ({})",
                d.heads, d.inner
            ),
        ));
    }
    Ok((hidden, layers, d))
}

/// The `mamba2.*` hyper-parameter keys (llama.cpp's, placeholders included); returns E.
fn backbone_keys(plan: &mut Plan, c: &HfConfig) -> Result<usize> {
    let (hidden, layers, d) = dims(c)?;
    check_time_step_limit(c)?;
    if !c.bool_or("use_conv_bias", true)? {
        return Err(ConvertError::config(
            "use_conv_bias",
            "= false is not supported (llama.cpp needs a conv bias)",
        ));
    }
    let eps = c.f64_or("layer_norm_epsilon", 1e-5)?;
    // Placeholders exactly as llama.cpp's mamba2 converter writes them.
    plan.arch_u32("context_length", 1 << 20)?;
    plan.arch_u32("embedding_length", hidden)?;
    plan.arch_u32("feed_forward_length", 0)?;
    plan.arch_u32("attention.head_count", 0)?;
    plan.arch_u32("block_count", layers)?;
    mamba2_keys(plan, d)?;
    plan.arch_f32("attention.layer_norm_rms_epsilon", eps);
    Ok(hidden)
}

/// Every layer's norm and Mamba-2 mixer (`backbone.layers.{i}.*`).
fn backbone_tensors(plan: &mut Plan, c: &HfConfig) -> Result<()> {
    let (hidden, layers, d) = dims(c)?;
    let mixer = MixerOpts {
        proj_bias: c.bool_or("use_bias", false)?,
        dt_bc_norms: false,
    };
    for i in 0..layers {
        plan.copy(
            format!("blk.{i}.attn_norm.weight"),
            &format!("backbone.layers.{i}.norm.weight"),
            &[hidden],
        )?;
        mamba2_mixer(plan, i, &format!("backbone.layers.{i}.mixer."), d, mixer)?;
    }
    Ok(())
}

/// transformers clamps dt to `time_step_limit` (default `(0, inf)`, a no-op); llama.cpp has no key
/// for a clamp, so only the default is accepted. 5.x writes inf as `{"__float__": "Infinity"}`.
fn check_time_step_limit(c: &HfConfig) -> Result<()> {
    let Some(limit) = c.get("time_step_limit") else {
        return Ok(());
    };
    let as_f64 = |v: &serde_json::Value| {
        v.as_f64()
            .or_else(|| match v.get("__float__").and_then(|s| s.as_str()) {
                Some("Infinity" | "inf") => Some(f64::INFINITY),
                _ => None,
            })
    };
    let pair: Option<Vec<f64>> = limit
        .as_array()
        .and_then(|a| a.iter().map(as_f64).collect());
    match pair.as_deref() {
        Some([lo, hi]) if *lo <= 0.0 && hi.is_infinite() => Ok(()),
        _ => Err(ConvertError::config(
            "time_step_limit",
            format!("{limit} is not supported (only the default [0, inf], i.e. no dt clamp)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_step_limit_default_spellings_pass_and_clamps_fail() {
        for ok in [
            json!({}),
            json!({"time_step_limit": [0.0, {"__float__": "Infinity"}]}),
        ] {
            check_time_step_limit(&HfConfig::new(ok).unwrap()).unwrap();
        }
        let err = check_time_step_limit(
            &HfConfig::new(json!({"time_step_limit": [0.001, 0.1]})).unwrap(),
        );
        assert!(err.unwrap_err().to_string().contains("time_step_limit"));
    }
}
