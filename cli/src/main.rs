//! `weft` — the command-line front end. A thin dispatcher: one module per subcommand.

mod bench;
mod chat;
mod common;
mod convert;
mod inspect;
mod parity;
mod run;
mod stream;
mod synth;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run hybrid state-space + attention language models from one GGUF file.
#[derive(Parser)]
#[command(name = "weft", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text from a prompt, streaming tokens as they come [default model: the bundled
    /// demo].
    Run(run::Args),
    /// Chat with a model over several turns (stdin can be piped); /reset, /save, /load, /quit.
    Chat(chat::Args),
    /// Feed frames (CSV lines or raw f32) through a model, one output line per frame; for a
    /// sensor model: anomaly score, flag and the predicted next frame [default model: the
    /// bundled sensor demo].
    Stream(stream::Args),
    /// Convert a Hugging Face model folder (config.json + safetensors) to GGUF.
    Convert(convert::Args),
    /// Describe a GGUF file: architecture, hyper-parameters, layer plan, tensors, tokenizer.
    Inspect(inspect::Args),
    /// Check a fixture folder against its Hugging Face reference logits (decode and prefill).
    Parity(parity::Args),
    /// Write a random-weight model at the shape of a public checkpoint (benchmarks).
    Synth(synth::Args),
    /// Measure load, prefill and decode speed, latency, memory and roofline fraction.
    Bench(bench::Args),
}

/// Errors every subcommand returns; printed once (messages already include their causes), exit
/// status 1.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Parity(args) => parity::run(args),
        Command::Run(args) => run::run(args),
        Command::Chat(args) => chat::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Synth(args) => synth::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
