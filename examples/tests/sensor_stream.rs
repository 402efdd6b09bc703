//! The sensor-stream example's measurement, asserted: the bundled sensor model separates
//! injected anomalies from normal walking (values measured with seed 2024: see
//! examples/README.md).

use weft_examples::gait::Kind;
use weft_examples::metrics::{auroc, detection};
use weft_examples::{bundled_model, sensor};

#[test]
fn injected_anomalies_are_found() {
    let r = sensor::run(&bundled_model("demo-sensor.gguf"), 7, 6000, 12).unwrap();
    assert_eq!((r.scores.len(), r.events.len()), (6000, 12));
    assert!(r.scores.iter().all(|s| s.is_finite() && *s >= 0.0));
    let w = r.warmup;
    let roc = auroc(&r.scores[w..], &r.labels[w..]);
    assert!(roc > 0.95, "AUROC {roc}");
    let d = detection(&r.flags, &r.events, 80, None);
    assert_eq!(d.events_detected, d.events, "{d:?}");
    assert!(d.precision > 0.9, "{d:?}");
    assert!(d.false_alarms * 200 < d.normal_frames, "{d:?}"); // < 0.5 % of normal frames
    // Spikes and dropouts are gross errors: every frame of them is flagged.
    for kind in [Kind::Spike, Kind::Dropout] {
        let d = detection(&r.flags, &r.events, 80, Some(kind));
        assert!(d.frame_recall > 0.95, "{kind:?}: {d:?}");
    }
}
