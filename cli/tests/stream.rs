//! `weft stream` on the bundled sensor model: one line per frame with finite numbers, the
//! injected anomalies of the sample stream flagged, CSV and raw f32 input giving the same
//! lines, and input errors naming the line.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn weft(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn sample() -> String {
    std::fs::read_to_string(models().join("demo-sensor.sample.csv")).unwrap()
}

/// The sample's frames (skipping its comment and header lines).
fn frames() -> Vec<Vec<f32>> {
    sample()
        .lines()
        .skip(2)
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect()
}

#[test]
fn one_line_per_frame_with_scores_flags_and_predictions() {
    let path = models().join("demo-sensor.sample.csv");
    let out = weft(
        &["stream", "--input", path.to_str().unwrap(), "--header"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("frame,score,anomaly,pred_0,pred_1,pred_2,pred_3,pred_4,pred_5")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 1000);
    for (t, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 9);
        assert_eq!(r[0], t as f64);
        assert!(r.iter().all(|x| x.is_finite()), "{r:?}");
        assert!(r[2] == 0.0 || r[2] == 1.0);
    }
    // The sample's first line names the events: a spike at 184-185, a dropout at 547-561.
    let flagged = |a: usize, b: usize| rows[a..=b].iter().all(|r| r[2] == 1.0);
    assert!(flagged(184, 185) && flagged(547, 561));
    // Normal walking before the first event: scores near 1, nothing flagged after the warm-up.
    let calm: Vec<f64> = rows[16..180].iter().map(|r| r[1]).collect();
    assert!(calm.iter().all(|&s| s < 4.0), "{calm:?}");
    let mean = calm.iter().sum::<f64>() / calm.len() as f64;
    assert!(mean > 0.3 && mean < 2.0, "{mean}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("1000 frames in") && err.contains("flagged"),
        "{err}"
    );
}

#[test]
fn csv_on_stdin_and_raw_f32_give_the_same_lines() {
    let csv = weft(&["stream", "--input", "-", "-q"], Some(sample().as_bytes()));
    assert!(
        csv.status.success(),
        "{}",
        String::from_utf8_lossy(&csv.stderr)
    );
    let bytes: Vec<u8> = frames()
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let raw = weft(
        &["stream", "--input", "-", "--format", "f32", "-q"],
        Some(&bytes),
    );
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(csv.stdout, raw.stdout);
    assert_eq!(String::from_utf8(raw.stdout).unwrap().lines().count(), 1000);
}

#[test]
fn the_threshold_option_changes_the_flags() {
    let input = sample();
    let lax = weft(
        &["stream", "-i", "-", "-q", "--threshold", "1e9"],
        Some(input.as_bytes()),
    );
    let text = String::from_utf8(lax.stdout).unwrap();
    assert!(text.lines().all(|l| l.split(',').nth(2) == Some("0")));
}

#[test]
fn bad_input_names_the_line_and_the_fix() {
    let out = weft(
        &["stream", "-i", "-"],
        Some(b"ax,ay,az,gx,gy,gz\n1,2,3,4,5,6\n1,2,3\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("input line 3: 3 values, the model reads frames of 6"),
        "{err}"
    );
    // The frame before the bad line was processed.
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);

    let out = weft(
        &["stream", "-i", "-"],
        Some(b"1,2,3,4,5,6\n1,2,nan,4,5,6\n"),
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("input line 2") && err.contains("not a finite number"),
        "{err}"
    );

    let out = weft(&["stream", "-i", "-", "-f", "f32"], Some(&[0u8; 30]));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("input ends inside frame 1: 6 bytes left over"),
        "{err}"
    );

    // A text model reads frames of its embedding width; --threshold needs a sensor model.
    let text = models().join("demo-text.gguf");
    let out = weft(
        &[
            "stream",
            text.to_str().unwrap(),
            "-i",
            "-",
            "--threshold",
            "3",
        ],
        Some(b""),
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("has no anomaly scoring"), "{err}");

    let out = weft(&["stream", "-i", "no-such-file.csv"], None);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: cannot open no-such-file.csv"),
        "{err}"
    );
}

#[test]
fn a_text_model_streams_embedding_sized_frames() {
    let text = models().join("demo-text.gguf");
    let frame = vec!["0.01"; 256].join(",") + "\n";
    let out = weft(
        &[
            "stream",
            text.to_str().unwrap(),
            "-i",
            "-",
            "-q",
            "--header",
        ],
        Some(frame.repeat(3).as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "frame,argmax,logit");
    assert_eq!(lines.len(), 4);
    let last: Vec<&str> = lines[3].split(',').collect();
    assert_eq!(last[0], "2");
    assert!(last[1].parse::<u32>().unwrap() < 4096);
    assert!(last[2].parse::<f32>().unwrap().is_finite());
}
