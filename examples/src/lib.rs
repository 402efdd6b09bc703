//! Helpers the examples share: the bundled models' paths, a synthetic IMU walking signal with
//! injected anomalies (the generator `tools/train/train_sensor.py` trained the sensor model on,
//! ported to Rust), and detection-quality metrics.

pub mod gait;
pub mod metrics;
pub mod sensor;

use std::path::PathBuf;

/// `models/NAME` of this repository.
pub fn bundled_model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .join(name)
}
