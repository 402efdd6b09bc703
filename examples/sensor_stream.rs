//! Streams a synthetic IMU walk with injected anomalies (spikes, sensor dropouts, bursts of fast
//! motion) through the bundled sensor model and reports how well its prediction error finds
//! them: per-frame ROC area, event recall, and the precision of the flags.
//!
//!     cargo run --release -p weft-examples --example sensor_stream [-- MODEL.gguf [SEED]]

use std::process::ExitCode;

use weft_examples::gait::Kind;
use weft_examples::metrics::{auroc, detection};
use weft_examples::{bundled_model, sensor};

/// Frames after an event during which flags count as that event's (1.6 s at 50 Hz).
const TAIL: usize = 80;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let model = args
        .next()
        .map(Into::into)
        .unwrap_or_else(|| bundled_model("demo-sensor.gguf"));
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(2024);
    let (n_frames, n_events) = (12_000, 24); // 4 minutes at 50 Hz
    let r = match sensor::run(&model, seed, n_frames, n_events) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}: {e}", model.display());
            return ExitCode::FAILURE;
        }
    };
    let w = r.warmup;
    let name = model.file_name().unwrap_or(model.as_os_str());
    println!(
        "{}: {} parameters; {} frames ({:.0} s at 50 Hz), {} injected events, threshold {:.2}",
        name.to_string_lossy(),
        r.params,
        r.frames,
        r.frames as f64 / 50.0,
        r.events.len(),
        r.threshold
    );
    println!("kind      events  detected  frame recall  AUROC");
    for kind in Kind::ALL.map(Some).into_iter().chain([None]) {
        // ROC of this kind's frames against all normal frames.
        let keep: Vec<usize> = (w..r.frames)
            .filter(|&i| {
                !r.labels[i]
                    || r.events
                        .iter()
                        .any(|e| kind.is_none_or(|k| e.kind == k) && i >= e.start && i < e.end)
            })
            .collect();
        let scores: Vec<f32> = keep.iter().map(|&i| r.scores[i]).collect();
        let labels: Vec<bool> = keep.iter().map(|&i| r.labels[i]).collect();
        let d = detection(&r.flags, &r.events, TAIL, kind);
        println!(
            "{:<8}  {:>6}  {:>8}  {:>12.3}  {:.4}",
            kind.map_or("all", Kind::name),
            d.events,
            d.events_detected,
            d.frame_recall,
            auroc(&scores, &labels)
        );
    }
    let d = detection(&r.flags, &r.events, TAIL, None);
    println!(
        "precision {:.3} (flags inside an event or the {TAIL} frames after it), event recall {:.3}",
        d.precision,
        d.events_detected as f64 / d.events as f64
    );
    println!(
        "false alarms: {} in {} normal frames ({:.3} %)",
        d.false_alarms,
        d.normal_frames,
        100.0 * d.false_alarms as f64 / d.normal_frames as f64
    );
    println!(
        "{:.0} frames/s (two sessions per frame, one thread)",
        r.frames as f64 / r.elapsed.as_secs_f64()
    );
    ExitCode::SUCCESS
}
