//! Frame models' anomaly scoring (docs/gguf.md, "Frame models"): a regression model predicts the
//! next frame; how far the actual frame lands from that prediction is its anomaly score.
//!
//! ```text
//! score(t) = mean_c ((frame[t][c] - prediction[t-1][c]) / error_scale[c])²
//! ```
//!
//! `error_scale` (the typical prediction error per channel on validation data) makes the score
//! about 1 on normal data; frames scoring above `threshold` are flagged, except the first
//! `warmup` frames, while the state is still filling.
//!
//! [`AnomalyDetector`] runs a model over an unbounded stream: a recurrent state run far past the
//! window the model was trained on (`context`) can drift, so it keeps two sessions, each restarted
//! every `context` frames, half a window apart, and takes every prediction from the one with the
//! longer history (between `context / 2` and `context` frames, as in training).
//!
//! A flagged frame is not fed to the model: the detector steps its own prediction instead, so
//! one spike or a dropout does not corrupt the state and raise alarms for the frames after it.
//! After `impute_limit` flagged frames it feeds the real frames again (until twice as many
//! normal frames in a row re-arm it), so a model that is still catching up is not left to run
//! on its own predictions. Once real anomalous frames have entered the states, the detector
//! restarts both — after [`RESTART_AFTER`] normal frames in a row, or `impute_limit` frames
//! later if the anomaly lasts — and flags nothing for `warmup` frames while they fill, so a long
//! anomaly or a lasting change of regime leaves no trail of alarms behind it.

use std::sync::Arc;

use super::Model;
use super::config::Meta;
use crate::error::{Error, ModelError, SessionError};
use crate::session::{Input, Session, SessionConfig};

/// `{arch}.anomaly.*` metadata of a regression model.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyConfig {
    /// `{arch}.anomaly.threshold`: a score above it flags the frame.
    pub threshold: f32,
    /// `{arch}.anomaly.error_scale` (one per channel; all 1 when absent).
    pub error_scale: Vec<f32>,
    /// `{arch}.anomaly.warmup`: frames at the start that are never flagged (default 0).
    pub warmup: usize,
    /// `{arch}.anomaly.context`: the window the model was trained on; [`AnomalyDetector`]
    /// keeps every prediction's history within it (0: one state, never restarted).
    pub context: usize,
}

impl Model {
    /// The anomaly-scoring metadata of a regression model: `Ok(None)` when the model is not a
    /// regression model or has no `{arch}.anomaly.threshold`.
    pub fn anomaly_config(&self) -> Result<Option<AnomalyConfig>, ModelError> {
        let Some(frames) = self.config().frames.as_ref().filter(|f| f.regression) else {
            return Ok(None);
        };
        let meta = Meta {
            gguf: self.gguf(),
            arch: self.config().arch.name(),
        };
        let Some(threshold) = meta.opt_f32("anomaly.threshold")? else {
            return Ok(None);
        };
        let key = format!("{}.anomaly.error_scale", meta.arch);
        let error_scale = match self.gguf().opt_f32_array(&key)? {
            None => vec![1.0; frames.dim],
            Some(s) if s.len() == frames.dim && s.iter().all(|&x| x > 0.0 && x.is_finite()) => {
                s.to_vec()
            }
            Some(s) => {
                return Err(ModelError::BadKey {
                    key,
                    reason: format!("needs {} positive finite values, has {:?}", frames.dim, s),
                });
            }
        };
        Ok(Some(AnomalyConfig {
            threshold,
            error_scale,
            warmup: meta.opt_u32("anomaly.warmup")?.unwrap_or(0),
            context: meta.opt_u32("anomaly.context")?.unwrap_or(0),
        }))
    }
}

/// One frame's verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnomalyScore {
    /// The score (0 for the first frame, which has no prediction to compare with).
    pub score: f32,
    /// `score > threshold`, after the warm-up.
    pub anomaly: bool,
}

/// Scores a stream of frames against a regression model's predictions. Allocates only in `new`.
#[derive(Clone, Debug)]
pub struct AnomalyScorer {
    config: AnomalyConfig,
    prediction: Vec<f32>,
    seen: usize,
}

impl AnomalyScorer {
    pub fn new(config: AnomalyConfig) -> Self {
        let dim = config.error_scale.len();
        AnomalyScorer {
            config,
            prediction: vec![0.0; dim],
            seen: 0,
        }
    }

    pub fn config(&self) -> &AnomalyConfig {
        &self.config
    }

    /// Scores `frame` against the prediction remembered from the previous call, then remembers
    /// `prediction` (the model's output after stepping `frame`) for the next frame.
    ///
    /// # Panics
    /// If `frame` or `prediction` is not `frame_dim` long.
    pub fn push(&mut self, frame: &[f32], prediction: &[f32]) -> AnomalyScore {
        let score = self.score(frame);
        self.observe(prediction);
        score
    }

    /// The score of `frame` against the remembered prediction; changes nothing.
    ///
    /// # Panics
    /// If `frame` is not `frame_dim` long.
    pub fn score(&self, frame: &[f32]) -> AnomalyScore {
        let dim = self.prediction.len();
        assert!(frame.len() == dim, "frames have {dim} values");
        let score = if self.seen == 0 {
            0.0
        } else {
            let sum: f32 = frame
                .iter()
                .zip(&self.prediction)
                .zip(&self.config.error_scale)
                .map(|((x, p), s)| ((x - p) / s).powi(2))
                .sum();
            sum / dim as f32
        };
        let anomaly = self.seen >= self.config.warmup.max(1) && score > self.config.threshold;
        AnomalyScore { score, anomaly }
    }

    /// The prediction the next frame will be scored against (the model's output after the
    /// frame just scored); counts one frame.
    ///
    /// # Panics
    /// If `prediction` is not `frame_dim` long.
    pub fn observe(&mut self, prediction: &[f32]) {
        self.prediction.copy_from_slice(prediction);
        self.seen += 1;
    }

    /// The remembered prediction (zeros before the first frame).
    pub fn expected(&self) -> &[f32] {
        &self.prediction
    }

    /// Forgets the stream (pair it with `Session::reset`).
    pub fn reset(&mut self) {
        self.seen = 0;
        self.prediction.fill(0.0);
    }
}

/// Normal frames in a row after which states that took in real anomalous frames are restarted.
pub const RESTART_AFTER: usize = 8;

/// Frames in, predictions and anomaly scores out, over an unbounded stream (see the module
/// docs). Allocates only in `new`.
pub struct AnomalyDetector {
    sessions: [Session; 2],
    /// Frames each session has consumed since its last restart (`None`: not started yet).
    age: [Option<usize>; 2],
    window: usize,
    scorer: AnomalyScorer,
    frames: usize,
    best: usize,
    /// Flagged frames in a row replaced by the prediction, and the most allowed.
    imputed: usize,
    impute_limit: usize,
    normal_run: usize,
    input: Vec<f32>,
    /// Since when real flagged frames go into the states (imputation was exhausted).
    contaminated: Option<usize>,
    /// Frame index of the last restart, and the first frame that may be flagged after it.
    epoch: usize,
    quiet_until: usize,
}

impl AnomalyDetector {
    /// A detector over `model` (a regression model with `{arch}.anomaly.threshold`), with
    /// `config` for both sessions.
    pub fn new(model: &Arc<Model>, config: SessionConfig) -> Result<Self, Error> {
        let anomaly = model.anomaly_config()?.ok_or_else(|| {
            ModelError::MissingKey(format!(
                "{}.anomaly.threshold (not a sensor model with anomaly scoring)",
                model.config().arch.name()
            ))
        })?;
        Self::with_config(model, config, anomaly)
    }

    /// As [`Self::new`], with the scoring configuration given (e.g. another threshold).
    pub fn with_config(
        model: &Arc<Model>,
        config: SessionConfig,
        anomaly: AnomalyConfig,
    ) -> Result<Self, Error> {
        let dim = model.config().output_width();
        if anomaly.error_scale.len() != dim || model.config().input_width() != dim {
            return Err(ModelError::InvalidConfig(format!(
                "anomaly scoring needs a model that predicts its own frames ({} in, {dim} out) \
                 and {dim} error scales (got {})",
                model.config().input_width(),
                anomaly.error_scale.len()
            ))
            .into());
        }
        let window = if anomaly.context >= 2 {
            anomaly.context
        } else {
            0
        };
        let impute_limit = if window > 0 { window / 8 } else { 32 };
        Ok(AnomalyDetector {
            sessions: [model.session(config.clone())?, model.session(config)?],
            age: [Some(0), None],
            window,
            scorer: AnomalyScorer::new(anomaly),
            frames: 0,
            best: 0,
            imputed: 0,
            impute_limit,
            normal_run: 0,
            input: vec![0.0; dim],
            contaminated: None,
            epoch: 0,
            quiet_until: 0,
        })
    }

    /// Most flagged frames that are replaced by the model's prediction before real frames go in
    /// again (default: an eighth of the context, or 32); 0 feeds every frame as it is.
    pub fn set_impute_limit(&mut self, frames: usize) {
        self.impute_limit = frames;
    }

    pub fn config(&self) -> &AnomalyConfig {
        self.scorer.config()
    }

    /// Bytes of state both sessions hold (fixed for the detector's lifetime).
    pub fn state_size(&self) -> usize {
        self.sessions.iter().map(Session::state_size).sum()
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Steps `frame` through the model; returns its score and the prediction of the next frame.
    /// A frame of the wrong length is an error and changes nothing.
    pub fn push(&mut self, frame: &[f32]) -> Result<(AnomalyScore, &[f32]), SessionError> {
        let dim = self.scorer.prediction.len();
        if frame.len() != dim {
            return Err(SessionError::FrameLength {
                expected: dim,
                found: frame.len(),
            });
        }
        let mut score = self.scorer.score(frame);
        score.anomaly &= self.frames >= self.quiet_until;
        if score.anomaly {
            self.normal_run = 0;
        } else {
            self.normal_run += 1;
            // Re-armed once the model tracks the signal again.
            if self.normal_run >= 2 * self.impute_limit {
                self.imputed = 0;
            }
        }
        if score.anomaly && self.imputed < self.impute_limit {
            self.imputed += 1;
            self.input.copy_from_slice(self.scorer.expected());
        } else {
            // Past the limit, real frames go in, so the model follows a lasting change.
            self.input.copy_from_slice(frame);
            if score.anomaly && self.contaminated.is_none() {
                self.contaminated = Some(self.frames);
            }
        }
        let restart = self.contaminated.is_some_and(|since| {
            self.normal_run >= RESTART_AFTER || self.frames - since >= self.impute_limit.max(1)
        });
        if restart {
            // The states hold real anomalous frames: start afresh from this frame, flagging
            // nothing while they fill (again every `impute_limit` frames while it lasts).
            for s in &mut self.sessions {
                s.reset();
            }
            self.age = [Some(0), None];
            self.epoch = self.frames;
            self.quiet_until = self.frames + self.scorer.config().warmup;
            self.contaminated = None;
        }
        if self.window > 0 {
            let (half, t) = (self.window / 2, self.frames - self.epoch);
            for (i, start) in [(0, 0), (1, half)] {
                if t >= start && (t - start).is_multiple_of(self.window) {
                    if self.age[i].is_some_and(|a| a > 0) {
                        self.sessions[i].reset();
                    }
                    self.age[i] = Some(0);
                }
            }
        }
        for i in 0..2 {
            if let Some(age) = &mut self.age[i] {
                self.sessions[i].step(Input::Frame(&self.input))?;
                *age += 1;
            }
        }
        self.best = match self.age {
            [Some(a), Some(b)] if b > a => 1,
            _ => 0,
        };
        self.frames += 1;
        let prediction = self.sessions[self.best]
            .logits()
            .expect("a session that just stepped has an output");
        self.scorer.observe(prediction);
        Ok((score, prediction))
    }

    /// The prediction of the next frame after the last push (`None` before the first).
    pub fn prediction(&self) -> Option<&[f32]> {
        self.sessions[self.best].logits()
    }

    /// Back to the start of a stream.
    pub fn reset(&mut self) {
        for s in &mut self.sessions {
            s.reset();
        }
        self.age = [Some(0), None];
        self.scorer.reset();
        self.frames = 0;
        self.best = 0;
        self.imputed = 0;
        self.normal_run = 0;
        self.contaminated = None;
        self.epoch = 0;
        self.quiet_until = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_against_the_previous_prediction() {
        let mut s = AnomalyScorer::new(AnomalyConfig {
            threshold: 3.0,
            error_scale: vec![1.0, 2.0],
            warmup: 2,
            context: 0,
        });
        assert_eq!(s.push(&[5.0, 5.0], &[1.0, 1.0]).score, 0.0);
        // ((3-1)/1)² + ((1-1)/2)² = 4, mean 2; inside the warm-up anyway.
        let v = s.push(&[3.0, 1.0], &[0.0, 0.0]);
        assert_eq!((v.score, v.anomaly), (2.0, false));
        // ((0-0)/1)² + ((4-0)/2)² = 4, mean 2 → normal; then 10 → flagged.
        assert!(!s.push(&[0.0, 4.0], &[0.0, 0.0]).anomaly);
        let v = s.push(&[0.0, 8.96], &[0.0, 0.0]);
        assert!(v.anomaly && (v.score - 10.035).abs() < 1e-3, "{v:?}");
        s.reset();
        assert_eq!(s.push(&[9.0, 9.0], &[0.0, 0.0]).score, 0.0);
    }
}
