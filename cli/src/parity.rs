//! `weft parity <fixture_dir>`: converts a Hugging Face fixture folder in memory, runs the decode
//! and prefill paths and compares every position's logits with `reference.safetensors`.

use std::path::PathBuf;

use weft::convert::OutType;
use weft::parity::check_fixture_on;

use crate::CliResult;
use crate::common::{BackendArg, check_backend};

#[derive(clap::Args)]
pub struct Args {
    /// Folder with config.json, model.safetensors and reference.safetensors (tokens, logits).
    dir: PathBuf,
    /// Storage type of the converted matrices: f32, f16, q8_0, q4_0.
    #[arg(long = "type", default_value = "f32")]
    ty: OutType,
    /// Where both paths run: cpu, gpu or auto (tolerance on the GPU, f32: 1e-3).
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Exit status 0 only if both paths are within the type's tolerance.
pub fn run(args: Args) -> CliResult {
    check_backend(args.backend)?;
    let r = check_fixture_on(&args.dir, args.ty, args.backend.backend())?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("case       {}", r.case);
        println!("type       {}", r.ty);
        println!("backend    {}", r.backend);
        println!("decode     max rel {:.3e}", r.decode_max_rel);
        println!("prefill    max rel {:.3e}", r.prefill_max_rel);
        println!("tolerance  {:.0e}", r.tolerance);
        println!("result     {}", if r.pass { "pass" } else { "FAIL" });
    }
    if r.pass {
        Ok(())
    } else {
        Err(format!(
            "{} ({}) exceeds the tolerance {:.0e}",
            r.case, r.ty, r.tolerance
        )
        .into())
    }
}
