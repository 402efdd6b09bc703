//! `weft-gpu-bench SHAPE TYPE [DECODE_TOKENS] [PREFILL_TOKENS]`: builds a random-weight Mamba-2
//! model at a real shape in memory, runs it on the GPU backend and prints one JSON line: decode
//! and prefill tokens/s, dispatches per token, host encode time, GPU time of the decode pass,
//! weight bytes read per token, the device's copy bandwidth and the fraction of it reached.
//!
//! Shapes: `mamba2-130m` (state-spaces/mamba2-130m) and `zamba2-1.2b`, `zamba2-2.7b`: the Mamba-2
//! stacks of those models (layers, widths, state, heads, vocabulary; the shared attention/MLP
//! blocks, ≈ 10-20 % of their weights, are not synthesised).

#[cfg(feature = "gpu")]
mod run;
#[cfg_attr(not(feature = "gpu"), allow(dead_code))]
mod synth;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: weft-gpu-bench SHAPE TYPE [DECODE_TOKENS] [PREFILL_TOKENS]");
        eprintln!("  SHAPE: {}", synth::SHAPES.map(|s| s.name).join(", "));
        eprintln!("  TYPE: q8_0, q4_0, f16");
        std::process::exit(2);
    }
    let shape = synth::SHAPES
        .iter()
        .find(|s| s.name == args[1])
        .unwrap_or_else(|| panic!("unknown shape {}", args[1]));
    let decode = args
        .get(3)
        .map_or(64, |s| s.parse().expect("DECODE_TOKENS"));
    let prefill = args
        .get(4)
        .map_or(128, |s| s.parse().expect("PREFILL_TOKENS"));
    #[cfg(feature = "gpu")]
    run::bench(shape, &args[2], decode, prefill);
    #[cfg(not(feature = "gpu"))]
    {
        let _ = (shape, decode, prefill);
        eprintln!("built without the `gpu` feature: cargo build -p weft-gpu-bench --features gpu");
        std::process::exit(2);
    }
}
