//! `weft run [MODEL] --prompt TEXT`: prefill the prompt, then sample and print tokens as they
//! come; statistics on stderr at the end.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use weft::tokenizer::StreamDecoder;

use crate::CliResult;
use crate::common::{self, SamplingArgs, SessionArgs};

#[derive(clap::Args)]
#[command(after_help = "Examples:
  weft run --prompt \"And God said\"              # the bundled demo model (models/demo-text.gguf)
  weft run model.gguf --prompt \"Once\" -n 64 --temp 0.7 --top-k 20 --seed 42
  weft run --prompt \"In the beginning\" --temp 0  # greedy (deterministic; small models loop)")]
pub struct Args {
    /// GGUF model file [default: the bundled models/demo-text.gguf].
    pub model: Option<PathBuf>,
    /// Text to continue.
    #[arg(short, long)]
    pub prompt: String,
    /// Most tokens to generate (generation also stops at the end-of-text token).
    #[arg(short = 'n', long = "n-predict", default_value_t = 128)]
    pub n_predict: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Keep generating past the end-of-text token.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Do not put the model's BOS token in front of the prompt.
    #[arg(long)]
    pub no_bos: bool,
    /// Do not echo the prompt before the generated text.
    #[arg(long)]
    pub no_echo: bool,
    /// Tokenizer file (Hugging Face tokenizer.json) when the model has none embedded.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// No statistics on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> CliResult {
    common::check_backend(args.session.backend)?;
    let sampler = args.sampling.config()?;
    let path = common::model_path(args.model.as_deref(), common::DEMO_TEXT)?;
    let model = common::load_model(&path, args.session.huge_pages)?;
    let tok = common::load_tokenizer(&model, &path, args.tokenizer.as_deref())?;
    let prompt = common::encode_prompt(&tok, &args.prompt, !args.no_bos)?;
    if prompt.is_empty() {
        return Err(
            "the prompt is empty (and the model has no BOS token): pass --prompt TEXT".into(),
        );
    }
    let mut s = model.session(args.session.config())?;
    s.set_seed(sampler.seed);

    let mut out = std::io::stdout().lock();
    if !args.no_echo && !common::emit(&mut out, &args.prompt)? {
        return Ok(());
    }
    let t0 = Instant::now();
    s.prefill(&prompt)?;
    let prefill_time = t0.elapsed();

    let t1 = Instant::now();
    let mut dec = StreamDecoder::new(&tok, true);
    let mut generated = 0;
    let mut open = true;
    // The first token comes from the prompt's logits; then each step feeds one token and
    // samples the next (on the GPU the draw runs there and only the id comes back).
    let mut next = s.sample(&sampler)?;
    while generated < args.n_predict && open {
        let t = next;
        if !args.ignore_eos && Some(t) == tok.eos_id() {
            break;
        }
        generated += 1;
        if let Some(piece) = dec.push(t)? {
            open = common::emit(&mut out, piece)?;
        }
        if generated < args.n_predict {
            next = s.step_sample(t, &sampler)?;
        }
    }
    if open {
        if let Some(rest) = dec.flush()? {
            open = common::emit(&mut out, rest)?;
        }
        if open {
            common::emit(&mut out, "\n")?;
        }
    }
    let gen_time = t1.elapsed();
    out.flush().ok();
    if !args.quiet {
        common::print_stats(
            &[
                format!("prompt {}", common::rate(prompt.len(), "tok", prefill_time)),
                format!("generated {}", common::rate(generated, "tok", gen_time)),
                common::engine_label(&s),
            ],
            s.state_size(),
        );
    }
    Ok(())
}
