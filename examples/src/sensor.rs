//! The sensor-stream experiment: a synthetic walk with injected anomalies streamed frame by
//! frame through `AnomalyDetector`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::model::frames::AnomalyDetector;
use weft::{Model, SessionConfig};

use crate::gait::{self, Event, Rng};

/// Everything measured on one stream.
pub struct Report {
    pub params: usize,
    pub frames: usize,
    pub warmup: usize,
    pub threshold: f32,
    pub scores: Vec<f32>,
    pub flags: Vec<bool>,
    pub labels: Vec<bool>,
    pub events: Vec<Event>,
    /// Time spent in `AnomalyDetector::push` (two sessions per frame).
    pub elapsed: Duration,
}

/// Streams `n_frames` of walking with `n_events` injected anomalies (seeded) through the model.
pub fn run(
    model: &Path,
    seed: u64,
    n_frames: usize,
    n_events: usize,
) -> Result<Report, weft::Error> {
    let model = Arc::new(Model::load(model)?);
    let params = model
        .gguf()
        .tensors()
        .iter()
        .map(|t| t.dims.iter().product::<u64>() as usize)
        .sum();
    let mut rng = Rng::new(seed);
    let mut frames = gait::walk(&mut rng, n_frames, None);
    let (labels, events) = gait::inject(&mut rng, &mut frames, n_events);

    let mut detector = AnomalyDetector::new(&model, SessionConfig::default())?;
    let (warmup, threshold) = (detector.config().warmup, detector.config().threshold);
    let mut scores = Vec::with_capacity(n_frames);
    let mut flags = Vec::with_capacity(n_frames);
    let t0 = Instant::now();
    for frame in &frames {
        let (score, _prediction) = detector.push(frame)?;
        scores.push(score.score);
        flags.push(score.anomaly);
    }
    Ok(Report {
        params,
        frames: n_frames,
        warmup,
        threshold,
        scores,
        flags,
        labels,
        events,
        elapsed: t0.elapsed(),
    })
}
