//! Detection quality: ROC area over per-frame scores, and precision/recall of the flags.

use crate::gait::{Event, Kind};

/// Area under the ROC curve: the probability that a random anomalous frame scores higher than
/// a random normal one (ties count half). Sorts once: O(n log n).
pub fn auroc(scores: &[f32], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0; // average rank of the tie group
        for &k in &idx[i..=j] {
            if labels[k] {
                rank_sum += rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// Flags judged against the injected events.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// Events with at least one flag inside them.
    pub events_detected: usize,
    pub events: usize,
    /// Anomalous frames flagged / anomalous frames.
    pub frame_recall: f64,
    /// Flags inside an event or its recovery tail / all flags.
    pub precision: f64,
    /// Flags outside every event and tail, and the normal frames they came from.
    pub false_alarms: usize,
    pub normal_frames: usize,
}

/// Scores the flags; a flag within `tail` frames after an event counts as that event's (the
/// model needs a moment to follow the signal again).
pub fn detection(flags: &[bool], events: &[Event], tail: usize, kind: Option<Kind>) -> Detection {
    let events: Vec<&Event> = events
        .iter()
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .collect();
    let inside = |i: usize| events.iter().any(|e| i >= e.start && i < e.end);
    let near = |i: usize| events.iter().any(|e| i >= e.start && i < e.end + tail);
    let detected = events
        .iter()
        .filter(|e| flags[e.start..e.end].iter().any(|&f| f))
        .count();
    let anomalous = (0..flags.len()).filter(|&i| inside(i)).count();
    let hits = (0..flags.len()).filter(|&i| inside(i) && flags[i]).count();
    let flagged = flags.iter().filter(|&&f| f).count();
    let attributed = (0..flags.len()).filter(|&i| flags[i] && near(i)).count();
    Detection {
        events_detected: detected,
        events: events.len(),
        frame_recall: hits as f64 / anomalous.max(1) as f64,
        precision: if flagged == 0 {
            1.0
        } else {
            attributed as f64 / flagged as f64
        },
        false_alarms: flagged - attributed,
        normal_frames: (0..flags.len()).filter(|&i| !near(i)).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_of_known_rankings() {
        assert_eq!(
            auroc(&[0.1, 0.2, 0.9, 0.8], &[false, false, true, true]),
            1.0
        );
        assert_eq!(
            auroc(&[0.9, 0.8, 0.1, 0.2], &[false, false, true, true]),
            0.0
        );
        assert_eq!(auroc(&[0.5, 0.5], &[false, true]), 0.5);
        // 3 positives, 2 negatives: pairs won 5 of 6.
        let s = [0.1, 0.4, 0.35, 0.8, 0.9];
        let l = [false, false, true, true, true];
        assert!((auroc(&s, &l) - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn detection_counts_tails_as_the_event() {
        let events = [Event {
            kind: Kind::Spike,
            start: 2,
            end: 4,
        }];
        let flags = [
            false, false, true, false, false, true, false, false, true, false,
        ];
        let d = detection(&flags, &events, 2, None);
        assert_eq!((d.events_detected, d.events), (1, 1));
        assert_eq!(d.frame_recall, 0.5);
        assert_eq!(d.false_alarms, 1); // frame 8
        assert!((d.precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(d.normal_frames, 6);
    }
}
