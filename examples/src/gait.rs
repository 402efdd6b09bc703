//! Synthetic 6-channel IMU walking signals at 50 Hz — accelerometer x/y/z (g), gyroscope x/y/z
//! (rad/s) — and anomaly injection; the same model of walking as `gait()` / `inject()` in
//! `tools/train/train_sensor.py` (a different random stream, the same distributions).

use std::f64::consts::PI;

/// Frames per second.
pub const FS: f64 = 50.0;
/// Channels per frame.
pub const CHANNELS: usize = 6;

/// Amplitude of harmonic k = 1..4 of the stride frequency, per channel.
const HARMONICS: [[f64; 4]; CHANNELS] = [
    [0.06, 0.22, 0.04, 0.08], // ax forward
    [0.12, 0.03, 0.05, 0.02], // ay lateral
    [0.03, 0.35, 0.05, 0.12], // az vertical
    [0.45, 0.05, 0.15, 0.03], // gx roll
    [0.05, 0.60, 0.04, 0.20], // gy pitch
    [0.30, 0.04, 0.10, 0.02], // gz yaw
];
const NOISE: [f64; CHANNELS] = [0.02, 0.02, 0.02, 0.03, 0.03, 0.03];
const GRAVITY: [f64; CHANNELS] = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0];

/// A small seeded generator (SplitMix64), so the examples need no dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }

    /// Uniform integer in [lo, hi).
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform(f64::MIN_POSITIVE, 1.0);
        let u2 = self.uniform(0.0, 1.0);
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }
}

/// `n` frames of walking. `cadence` (steps/s) is drawn from 1.4-2.2 unless given.
pub fn walk(rng: &mut Rng, n: usize, cadence: Option<f64>) -> Vec<[f32; CHANNELS]> {
    let f0 = cadence.unwrap_or_else(|| rng.uniform(1.4, 2.2));
    let amp = rng.uniform(0.7, 1.3);
    let mut jitter = [[0.0; 4]; CHANNELS];
    let mut phase = [[0.0; 4]; CHANNELS];
    for row in jitter.iter_mut() {
        for j in row.iter_mut() {
            *j = rng.uniform(0.75, 1.25);
        }
    }
    for row in phase.iter_mut() {
        for p in row.iter_mut() {
            *p = rng.uniform(0.0, 2.0 * PI);
        }
    }
    let mut offset = GRAVITY;
    for (c, o) in offset.iter_mut().enumerate() {
        *o += if c < 3 {
            rng.uniform(-0.15, 0.15)
        } else {
            rng.uniform(-0.05, 0.05)
        };
    }
    let drift_period = rng.uniform(4.0, 12.0);
    let drift_phase = rng.uniform(0.0, 2.0 * PI);
    let mut stride_phase = 0.0;
    let mut out = Vec::with_capacity(n);
    for t in 0..n {
        let time = t as f64 / FS;
        let cadence = f0 * (1.0 + 0.04 * (2.0 * PI * time / drift_period + drift_phase).sin());
        stride_phase += 2.0 * PI * (cadence / 2.0) / FS; // a stride is two steps
        let mut frame = [0f32; CHANNELS];
        for c in 0..CHANNELS {
            let mut v = offset[c];
            for k in 0..4 {
                let w = (stride_phase * (k + 1) as f64 + phase[c][k]).sin();
                v += amp * HARMONICS[c][k] * jitter[c][k] * w;
            }
            frame[c] = (v + NOISE[c] * rng.normal()) as f32;
        }
        out.push(frame);
    }
    out
}

/// What was injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 1-2 frames with a 1-2.5 g / rad/s jump on 1-3 channels.
    Spike,
    /// 10-25 frames of zeros (the sensor stops reporting).
    Dropout,
    /// 1.5-3 s of fast, irregular motion: cadence 3.2-4 steps/s.
    Shift,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Spike, Kind::Dropout, Kind::Shift];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Spike => "spike",
            Kind::Dropout => "dropout",
            Kind::Shift => "shift",
        }
    }
}

/// One injected anomaly: frames `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// Injects `n_events` anomalies (spike, dropout, shift in turn), one per equal slot of the
/// stream; returns the per-frame labels and the events.
pub fn inject(
    rng: &mut Rng,
    frames: &mut [[f32; CHANNELS]],
    n_events: usize,
) -> (Vec<bool>, Vec<Event>) {
    let n = frames.len();
    let slot = n / n_events;
    assert!(slot >= 400, "streams need at least 400 frames per event");
    let mut labels = vec![false; n];
    let mut events = Vec::new();
    for e in 0..n_events {
        let kind = Kind::ALL[e % 3];
        let lo = e * slot + 100;
        let (start, len) = match kind {
            Kind::Spike => {
                let start = rng.int(lo, lo + slot - 200);
                let len = rng.int(1, 3);
                let mut channels: Vec<usize> = (0..CHANNELS).collect();
                for _ in 0..rng.int(1, 4) {
                    let c = channels.swap_remove(rng.int(0, channels.len()));
                    let sign = if rng.next_u64() & 1 == 0 { -1.0 } else { 1.0 };
                    let jump = sign * rng.uniform(1.0, 2.5);
                    for f in &mut frames[start..start + len] {
                        f[c] += jump as f32;
                    }
                }
                (start, len)
            }
            Kind::Dropout => {
                let start = rng.int(lo, lo + slot - 200);
                let len = rng.int(10, 26);
                frames[start..start + len].fill([0.0; CHANNELS]);
                (start, len)
            }
            Kind::Shift => {
                let start = rng.int(lo, lo + slot - 250);
                let len = rng.int(75, 150);
                let cadence = rng.uniform(3.2, 4.0);
                let fast = walk(rng, len, Some(cadence));
                frames[start..start + len].copy_from_slice(&fast);
                (start, len)
            }
        };
        labels[start..start + len].fill(true);
        events.push(Event {
            kind,
            start,
            end: start + len,
        });
    }
    (labels, events)
}
