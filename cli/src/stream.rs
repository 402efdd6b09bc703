//! `weft stream [MODEL] --input FILE|- [--format csv|f32]`: frames in, one output line per frame.
//!
//! A sensor model (regression head + `anomaly.*` metadata) goes through `AnomalyDetector`:
//! `frame,score,anomaly,pred_0,…` per line — the frame's anomaly score against the prediction
//! made before it, the flag (0/1), and the model's prediction of the next frame. A regression
//! model without anomaly metadata prints `frame,pred_0,…`; any other model (frames of its
//! embedding width) `frame,argmax,logit`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use weft::model::frames::AnomalyDetector;
use weft::{Input, Model, Session};

use crate::CliResult;
use crate::common::{self, SessionArgs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One frame per line, values separated by commas, semicolons or spaces; blank lines, `#`
    /// comments and a header line are skipped.
    Csv,
    /// Raw little-endian f32, frame after frame.
    F32,
}

#[derive(clap::Args)]
#[command(after_help = "Output (CSV on stdout, one line per input frame):
  sensor model:      frame,score,anomaly,pred_0,...   score = mean((x - prediction)/error_scale)^2
  regression model:  frame,pred_0,...
  other models:      frame,argmax,logit

Examples:
  weft stream --input models/demo-sensor.sample.csv           # the bundled sensor model
  tail -f imu.csv | weft stream --input - --quiet             # live, flushed line by line
  weft stream model.gguf --input frames.bin --format f32 --threshold 6")]
pub struct Args {
    /// GGUF model file [default: the bundled models/demo-sensor.gguf].
    pub model: Option<PathBuf>,
    /// Frames to read: a file, or `-` for stdin.
    #[arg(short, long, value_name = "FILE|-")]
    pub input: PathBuf,
    /// How the frames are encoded.
    #[arg(short, long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Anomaly threshold instead of the model's `anomaly.threshold`.
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Print a header line first.
    #[arg(long)]
    pub header: bool,
    #[command(flatten)]
    pub session: SessionArgs,
    /// No statistics on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// What turns a frame into an output line.
enum Runner {
    Detector(Box<AnomalyDetector>),
    Session(Box<Session>),
}

pub fn run(args: Args) -> CliResult {
    common::check_backend(args.session.backend)?;
    let path = common::model_path(args.model.as_deref(), common::DEMO_SENSOR)?;
    let model = common::load_model(&path, args.session.huge_pages)?;
    let width = model.config().input_width();
    let regression = model.config().frames.as_ref().is_some_and(|f| f.regression);
    let anomaly = model
        .anomaly_config()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut runner = match anomaly {
        Some(mut a) => {
            if let Some(t) = args.threshold {
                a.threshold = t;
            }
            Runner::Detector(Box::new(
                AnomalyDetector::with_config(&model, args.session.config(), a)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
            ))
        }
        None => {
            if args.threshold.is_some() {
                return Err(format!(
                    "{} has no anomaly scoring (not a sensor model with {}.anomaly.* keys); \
                     drop --threshold",
                    path.display(),
                    model.config().arch.name()
                )
                .into());
            }
            Runner::Session(Box::new(model.session(args.session.config())?))
        }
    };

    let live = args.input.as_os_str() == "-";
    let reader: Box<dyn Read> = if live {
        Box::new(io::stdin().lock())
    } else {
        Box::new(
            File::open(&args.input)
                .map_err(|e| format!("cannot open {}: {e}", args.input.display()))?,
        )
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if args.header && !header(&mut out, &runner, &model, regression)? {
        return Ok(());
    }

    let t0 = Instant::now();
    let mut frames = 0usize;
    let mut flagged = 0usize;
    let mut line = String::new();
    let mut on_frame = |frame: &[f32]| -> Result<bool, Box<dyn std::error::Error>> {
        line.clear();
        let t = frames;
        frames += 1;
        match &mut runner {
            Runner::Detector(d) => {
                let (s, pred) = d.push(frame)?;
                flagged += usize::from(s.anomaly);
                line.push_str(&format!("{t},{:.4},{}", s.score, u8::from(s.anomaly)));
                pred.iter().for_each(|p| line.push_str(&format!(",{p:.5}")));
            }
            Runner::Session(s) => {
                let out = s.step(Input::Frame(frame))?;
                line.push_str(&t.to_string());
                if regression {
                    out.iter().for_each(|p| line.push_str(&format!(",{p:.5}")));
                } else {
                    let (i, v) = out
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .unwrap_or((0, &0.0));
                    line.push_str(&format!(",{i},{v:.4}"));
                }
            }
        }
        line.push('\n');
        let open = common::emit_buffered(&mut out, &line, live)?;
        Ok(open)
    };
    match args.format {
        Format::Csv => read_csv(reader, width, &mut on_frame)?,
        Format::F32 => read_f32(reader, width, &mut on_frame)?,
    }
    common::emit_buffered(&mut out, "", true)?;
    let elapsed = t0.elapsed();
    if !args.quiet {
        let mut parts = vec![common::rate(frames, "frames", elapsed)];
        if let Runner::Detector(_) = runner {
            parts.push(format!("{flagged} flagged as anomalies"));
        }
        let state = match &runner {
            Runner::Detector(d) => d.state_size(),
            Runner::Session(s) => s.state_size(),
        };
        common::print_stats(&parts, state);
    }
    Ok(())
}

/// The header line; `Ok(false)` when stdout is closed.
fn header(
    out: &mut impl Write,
    runner: &Runner,
    model: &Model,
    regression: bool,
) -> Result<bool, io::Error> {
    let n = model.config().output_width();
    let preds = (0..n).map(|i| format!(",pred_{i}")).collect::<String>();
    let line = match runner {
        Runner::Detector(_) => format!("frame,score,anomaly{preds}\n"),
        Runner::Session(_) if regression => format!("frame{preds}\n"),
        Runner::Session(_) => "frame,argmax,logit\n".to_string(),
    };
    common::emit_buffered(out, &line, true)
}

type OnFrame<'a> = dyn FnMut(&[f32]) -> Result<bool, Box<dyn std::error::Error>> + 'a;

/// CSV frames: numbers separated by `,`, `;` or whitespace; skips blank lines, `#` comments and
/// one header line (a first line that is not all numbers).
fn read_csv(reader: impl Read, width: usize, on_frame: &mut OnFrame) -> CliResult {
    let mut frame = Vec::with_capacity(width);
    let mut seen_data = false;
    for (i, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| format!("reading input line {}: {e}", i + 1))?;
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        frame.clear();
        let mut bad = None;
        for field in text
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|f| !f.is_empty())
        {
            match field.parse::<f32>() {
                Ok(v) if v.is_finite() => frame.push(v),
                _ => {
                    bad = Some(field.to_string());
                    break;
                }
            }
        }
        if let Some(field) = bad {
            if !seen_data {
                seen_data = true; // a header line
                continue;
            }
            return Err(format!(
                "input line {}: {field:?} is not a finite number (frames are {width} numbers \
                 per line)",
                i + 1
            )
            .into());
        }
        seen_data = true;
        if frame.len() != width {
            return Err(format!(
                "input line {}: {} values, the model reads frames of {width}",
                i + 1,
                frame.len()
            )
            .into());
        }
        if !on_frame(&frame)? {
            break;
        }
    }
    Ok(())
}

/// Raw little-endian f32 frames.
fn read_f32(reader: impl Read, width: usize, on_frame: &mut OnFrame) -> CliResult {
    let mut reader = BufReader::new(reader);
    let mut bytes = vec![0u8; 4 * width];
    let mut frame = vec![0f32; width];
    for index in 0.. {
        let mut filled = 0;
        while filled < bytes.len() {
            match reader.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading input: {e}").into()),
            }
        }
        if filled == 0 {
            break;
        }
        if filled < bytes.len() {
            return Err(format!(
                "input ends inside frame {index}: {filled} bytes left over (a frame is {width} \
                 little-endian f32 = {} bytes)",
                bytes.len()
            )
            .into());
        }
        for (v, b) in frame.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        if let Some(c) = frame.iter().position(|v| !v.is_finite()) {
            return Err(format!("frame {index}, value {c}: not a finite number").into());
        }
        if !on_frame(&frame)? {
            break;
        }
    }
    Ok(())
}
