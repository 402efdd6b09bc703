//! `weft parity <fixture_dir>`: converts a Hugging Face fixture folder in memory, runs the decode
//! and prefill paths and compares every position's logits with `reference.safetensors`.

use std::path::PathBuf;

use weft::convert::OutType;
use weft::parity::check_fixture;

use crate::CliResult;

#[derive(clap::Args)]
pub struct Args {
    /// Folder with config.json, model.safetensors and reference.safetensors (tokens, logits).
    dir: PathBuf,
    /// Storage type of the converted matrices: f32, f16, q8_0, q4_0.
    #[arg(long = "type", default_value = "f32")]
    ty: OutType,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Exit status 0 only if both paths are within the type's tolerance.
pub fn run(args: Args) -> CliResult {
    let r = check_fixture(&args.dir, args.ty)?;
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!("case       {}", r.case);
        println!("type       {}", r.ty);
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
