//! The bundled sensor model (`models/demo-sensor.gguf`, a Mamba-2 frame regressor): frames in
//! through `frame_in`, next-frame predictions out of `frame_out`, equal to PyTorch's
//! (`models/demo-sensor.ref.json`); tokens are refused; the anomaly detector separates the
//! injected anomalies of `models/demo-sensor.sample.csv` from normal frames.

use std::path::PathBuf;
use std::sync::Arc;

use weft::model::frames::AnomalyDetector;
use weft::{Input, Model, SessionConfig, SessionError};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn sensor() -> Arc<Model> {
    Arc::new(Model::load(models().join("demo-sensor.gguf")).expect("sensor model loads"))
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[test]
fn predictions_match_pytorch() {
    let model = sensor();
    let c = model.config();
    let frames = c.frames.as_ref().expect("a frame model");
    assert_eq!((frames.dim, frames.regression), (6, true));
    assert_eq!((c.input_width(), c.output_width(), c.n_vocab), (6, 6, 0));

    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(models().join("demo-sensor.ref.json")).unwrap(),
    )
    .unwrap();
    let (inputs, outputs) = (rows(&r["frames"]), rows(&r["outputs"]));
    assert_eq!(inputs.len(), outputs.len());
    let mut s = model.session(SessionConfig::default()).unwrap();
    let mut worst = 0f32;
    for (t, (x, want)) in inputs.iter().zip(&outputs).enumerate() {
        let got = s.step(Input::Frame(x)).unwrap();
        for (g, w) in got.iter().zip(want) {
            let err = (g - w).abs() / w.abs().max(1.0);
            worst = worst.max(err);
            assert!(err < 1e-4, "t={t}: {got:?} vs {want:?}");
        }
    }
    assert!(worst < 1e-4, "{worst}");

    // Save → load → continue is bit-identical.
    let mut blob = vec![0u8; s.state_size()];
    s.save_state(&mut blob).unwrap();
    let next = s.step(Input::Frame(&inputs[0])).unwrap().to_vec();
    let mut t = model.session(SessionConfig::default()).unwrap();
    t.load_state(&blob).unwrap();
    assert_eq!(t.step(Input::Frame(&inputs[0])).unwrap(), next.as_slice());
}

#[test]
fn tokens_and_wrong_frames_are_refused() {
    let model = sensor();
    let mut s = model.session(SessionConfig::default()).unwrap();
    assert!(matches!(
        s.step(Input::Token(0)),
        Err(SessionError::TokensUnsupported { frame_dim: 6 })
    ));
    assert!(matches!(
        s.prefill(&[0, 1]),
        Err(SessionError::TokensUnsupported { .. })
    ));
    assert!(matches!(
        s.step(Input::Frame(&[0.0; 64])),
        Err(SessionError::FrameLength {
            expected: 6,
            found: 64
        })
    ));
    assert_eq!(s.position(), 0);
    let a = model.anomaly_config().unwrap().expect("anomaly keys");
    assert_eq!((a.warmup, a.context, a.error_scale.len()), (16, 256, 6));
    assert!(a.threshold > 1.0 && a.threshold < 10.0, "{a:?}");
}

/// The sample stream's frames and, from its first comment line, the anomalous frame ranges.
fn sample() -> (Vec<Vec<f32>>, Vec<bool>) {
    let text = std::fs::read_to_string(models().join("demo-sensor.sample.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let frames: Vec<Vec<f32>> = lines
        .filter(|l| l.starts_with(|c: char| c == '-' || c.is_ascii_digit()))
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    let mut labels = vec![false; frames.len()];
    // "# ...: spike frames 184-185; dropout frames 547-561; shift frames 824-899"
    for part in header.split(';') {
        let range = part.rsplit(' ').next().unwrap();
        let (a, b) = range.split_once('-').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        labels[a..=b].iter_mut().for_each(|l| *l = true);
    }
    (frames, labels)
}

/// Area under the ROC curve: the probability that an anomalous frame outscores a normal one.
fn auroc(scores: &[f32], labels: &[bool]) -> f64 {
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for (&s, &l) in scores.iter().zip(labels) {
        if l { pos.push(s) } else { neg.push(s) }
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[test]
fn the_detector_separates_injected_anomalies() {
    let model = sensor();
    let (frames, labels) = sample();
    assert_eq!(frames.len(), 1000);
    let mut d = AnomalyDetector::new(&model, SessionConfig::default()).unwrap();
    let warmup = d.config().warmup;
    let mut scores = Vec::new();
    let mut flags = Vec::new();
    for f in &frames {
        let (s, prediction) = d.push(f).unwrap();
        assert!(s.score.is_finite() && prediction.iter().all(|x| x.is_finite()));
        scores.push(s.score);
        flags.push(s.anomaly);
    }
    let roc = auroc(&scores[warmup..], &labels[warmup..]);
    assert!(roc > 0.95, "AUROC {roc}");
    // Every injected event raises at least one flag inside it.
    let mut t = 0;
    while t < labels.len() {
        if labels[t] {
            let end = (t..labels.len())
                .find(|&i| !labels[i])
                .unwrap_or(labels.len());
            assert!(
                flags[t..end].iter().any(|&f| f),
                "event at {t}..{end} missed"
            );
            t = end;
        } else {
            t += 1;
        }
    }
    // Normal frames are rarely flagged. After an event the model needs up to ~1.5 s (75 frames)
    // to follow the signal again (a cadence shift leaves its trace in the state), so flags
    // within 80 frames after an event count as that event's.
    let near_event = |i: usize| labels[i.saturating_sub(80)..=i].iter().any(|&l| l);
    let false_alarms = (warmup..labels.len())
        .filter(|&i| flags[i] && !near_event(i))
        .count();
    assert!(false_alarms <= 3, "{false_alarms} false alarms");
    // A reset detector replays the stream exactly.
    d.reset();
    for (f, want) in frames.iter().zip(&scores).take(300) {
        assert_eq!(d.push(f).unwrap().0.score, *want);
    }
}

/// A tiny `Mamba2ForFrameRegression` folder (1 layer, E 8, 3-float frames) with `frame_out`
/// zeroed, so the model's prediction is exactly `frame_out.bias`.
fn write_frame_folder(dir: &std::path::Path, config: serde_json::Value) {
    use safetensors::tensor::{Dtype, TensorView};
    let (e, i, n, h, k, f) = (8usize, 16usize, 4usize, 2usize, 4usize, 3usize);
    let conv = i + 2 * n;
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut add = |name: &str, shape: Vec<usize>, fill: &dyn Fn(usize) -> f32| {
        let len = shape.iter().product();
        tensors.push((name.to_string(), shape, (0..len).map(fill).collect()));
    };
    let wave = |j: usize| ((j * 37 % 101) as f32 / 101.0 - 0.5) * 0.4;
    add("frame_in.weight", vec![e, f], &wave);
    add("frame_in.bias", vec![e], &wave);
    let p = "backbone.layers.0.";
    add(&format!("{p}norm.weight"), vec![e], &|_| 1.0);
    add(
        &format!("{p}mixer.in_proj.weight"),
        vec![2 * i + 2 * n + h, e],
        &wave,
    );
    add(&format!("{p}mixer.conv1d.weight"), vec![conv, 1, k], &wave);
    add(&format!("{p}mixer.conv1d.bias"), vec![conv], &wave);
    add(&format!("{p}mixer.dt_bias"), vec![h], &|_| 0.5);
    add(&format!("{p}mixer.A_log"), vec![h], &|j| j as f32 * 0.3);
    add(&format!("{p}mixer.D"), vec![h], &|_| 1.0);
    add(&format!("{p}mixer.norm.weight"), vec![i], &|_| 1.0);
    add(&format!("{p}mixer.out_proj.weight"), vec![e, i], &wave);
    add("backbone.norm_f.weight", vec![e], &|_| 1.0);
    add("frame_out.weight", vec![f, e], &|_| 0.0);
    add("frame_out.bias", vec![f], &|j| [0.25, -1.5, 3.0][j]);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, v)| {
            (
                name,
                shape,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(name, shape, b)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

fn frame_config() -> serde_json::Value {
    serde_json::json!({
        "architectures": ["Mamba2ForFrameRegression"], "model_type": "mamba2",
        "hidden_size": 8, "num_hidden_layers": 1, "state_size": 4, "expand": 2, "head_dim": 8,
        "num_heads": 2, "n_groups": 1, "conv_kernel": 4, "layer_norm_epsilon": 1e-5,
        "frame_dim": 3, "anomaly_threshold": 2.5, "anomaly_error_scale": [0.5, 1.0, 2.0],
        "anomaly_warmup": 4, "anomaly_context": 32
    })
}

#[test]
fn convert_writes_frame_models_that_run() {
    use weft::convert::{ConvertOptions, OutType, convert_to_bytes};
    let dir = tempfile::tempdir().unwrap();
    write_frame_folder(dir.path(), frame_config());
    let bytes = convert_to_bytes(dir.path(), &ConvertOptions::new(OutType::F32)).unwrap();
    let g = weft::gguf::Gguf::from_bytes(bytes).unwrap();
    assert_eq!(g.get_str("general.architecture").unwrap(), "mamba2");
    assert_eq!(g.get_u32("mamba2.frame_dim").unwrap(), 3);
    assert_eq!(g.get_str("mamba2.output_kind").unwrap(), "regression");
    assert!(g.tensor("token_embd.weight").is_none() && g.get("mamba2.vocab_size").is_none());
    assert!(g.get("tokenizer.ggml.bos_token_id").is_none());
    let model = Arc::new(Model::from_gguf(g).unwrap());
    let a = model.anomaly_config().unwrap().unwrap();
    assert_eq!(a.threshold, 2.5);
    assert_eq!(a.error_scale, [0.5, 1.0, 2.0]);
    assert_eq!((a.warmup, a.context), (4, 32));
    // frame_out is zero: the prediction is its bias, whatever the frames.
    let mut s = model.session(SessionConfig::default()).unwrap();
    for t in 0..5 {
        let x = [t as f32, -1.0, 0.5];
        assert_eq!(s.step(Input::Frame(&x)).unwrap(), [0.25, -1.5, 3.0]);
    }
    // So a frame equal to the bias scores 0 and one off by the error scale scores 1.
    let mut d = AnomalyDetector::new(&model, SessionConfig::default()).unwrap();
    d.push(&[0.0; 3]).unwrap();
    assert_eq!(d.push(&[0.25, -1.5, 3.0]).unwrap().0.score, 0.0);
    let (s, _) = d.push(&[0.75, -0.5, 5.0]).unwrap();
    assert_eq!(s.score, 1.0);
    assert!(!s.anomaly);
}

#[test]
fn frame_conversion_errors_name_the_key() {
    use weft::convert::{ConvertOptions, OutType, convert_to_bytes};
    let dir = tempfile::tempdir().unwrap();
    let mut c = frame_config();
    c.as_object_mut().unwrap().remove("frame_dim");
    write_frame_folder(dir.path(), c);
    let err = convert_to_bytes(dir.path(), &ConvertOptions::new(OutType::F32)).unwrap_err();
    assert!(err.to_string().contains("frame_dim"), "{err}");

    let mut c = frame_config();
    c["anomaly_error_scale"] = serde_json::json!([1.0, 0.0, 1.0]);
    write_frame_folder(dir.path(), c);
    let err = convert_to_bytes(dir.path(), &ConvertOptions::new(OutType::F32)).unwrap_err();
    assert!(err.to_string().contains("anomaly_error_scale"), "{err}");
}
