//! `weft convert <hf_dir> <out.gguf> --type f32|f16|q8_0|q4_0`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use weft::convert::{ConvertOptions, OutType, convert_to_path, target_architecture};

use crate::CliResult;

/// Storage type of the weight matrices (norms, biases, conv kernels and routers stay F32).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TypeArg {
    F32,
    F16,
    #[value(name = "q8_0")]
    Q8_0,
    #[value(name = "q4_0")]
    Q4_0,
}

impl From<TypeArg> for OutType {
    fn from(t: TypeArg) -> OutType {
        match t {
            TypeArg::F32 => OutType::F32,
            TypeArg::F16 => OutType::F16,
            TypeArg::Q8_0 => OutType::Q8_0,
            TypeArg::Q4_0 => OutType::Q4_0,
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Hugging Face model folder (config.json, model.safetensors or a sharded index, optional
    /// tokenizer.json / tokenizer_config.json).
    hf_dir: PathBuf,
    /// GGUF file to write (written to `<out>.tmp` first, then renamed).
    out: PathBuf,
    /// Storage type of the weight matrices.
    #[arg(long = "type", value_name = "TYPE", value_enum, default_value = "f16")]
    ty: TypeArg,
    /// `general.name` (default: the folder name).
    #[arg(long)]
    name: Option<String>,
}

pub fn run(args: Args) -> CliResult {
    let out_type = OutType::from(args.ty);
    let arch = target_architecture(&args.hf_dir)?;
    eprintln!(
        "converting {} → {} ({arch}, {out_type})",
        args.hf_dir.display(),
        args.out.display()
    );
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tensors  {elapsed_precise}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress_bar = bar.clone();
    let opts = ConvertOptions {
        out_type,
        name: args.name,
        progress: Some(Arc::new(move |done, total, name: &str| {
            progress_bar.set_length(total as u64);
            progress_bar.set_position(done as u64);
            progress_bar.set_message(name.to_string());
        })),
    };
    let start = Instant::now();
    let result = convert_to_path(&args.hf_dir, &args.out, &opts);
    bar.finish_and_clear();
    let summary = result?;
    for name in &summary.unused_tensors {
        eprintln!("warning: checkpoint tensor {name:?} was not used");
    }
    println!(
        "wrote {}: {} {}, {} tensors, {} bytes ({:.1} MiB) in {:.2} s",
        args.out.display(),
        summary.architecture,
        out_type,
        summary.tensors,
        summary.bytes,
        summary.bytes as f64 / (1 << 20) as f64,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
