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
