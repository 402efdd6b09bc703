//! `weft synth --arch ARCH --shape NAME --type TYPE <out.gguf>`: a random-weight model at the
//! shape of a public checkpoint (for benchmarks; see `weft::synth`).

use std::path::PathBuf;
use std::time::Instant;

use weft::convert::OutType;
use weft::synth::{SHAPES, find};

use crate::CliResult;

#[derive(clap::Args)]
pub struct Args {
    /// GGUF file to write (omit with --list).
    out: Option<PathBuf>,
    /// Architecture: mamba, mamba2, jamba, zamba2, llama.
    #[arg(long, default_value = "mamba2")]
    arch: String,
    /// Shape name (mamba-130m, mamba2-130m, jamba-tiny-dev, zamba2-1.2b, zamba2-2.7b,
    /// llama-124m, or `tiny` for any architecture).
    #[arg(long)]
    shape: Option<String>,
    /// Storage type of the weight matrices: f32, f16, q8_0, q4_0.
    #[arg(long = "type", value_name = "TYPE", default_value = "q8_0")]
    ty: OutType,
    /// Seed of the weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// List the known shapes.
    #[arg(long)]
    list: bool,
}

pub fn run(args: Args) -> CliResult {
    if args.list {
        for s in SHAPES {
            println!("{:<7} {:<15} {}", s.arch, s.name, s.source);
        }
        return Ok(());
    }
    let out = args.out.ok_or("an output path is required (or --list)")?;
    let shape = args.shape.ok_or("--shape is required (see --list)")?;
    let shape = find(&args.arch, &shape)?;
    let t = Instant::now();
    let bytes = shape.write(args.ty, args.seed, &out)?;
    eprintln!(
        "wrote {} ({} {} {}, {:.1} MiB) in {:.1} s",
        out.display(),
        shape.arch,
        shape.name,
        args.ty,
        bytes as f64 / (1 << 20) as f64,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
