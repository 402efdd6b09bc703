//! `weft chat [MODEL]`: a multi-turn conversation over one session.
//!
//! Each turn renders the whole conversation with the chat template and feeds only the text past
//! what the session has already seen (the recurrent state and KV rings carry the rest); if the
//! template rewrote earlier text, the session is reset and the conversation fed again. A reply
//! ends at the end-of-text token, at the text the template puts after an assistant message (e.g.
//! `<|im_end|>`, or the newline of the demo model's plain template), or after `-n` tokens.
//!
//! `/save FILE` writes the session's fixed-size state blob to FILE and the transcript to
//! `FILE.json`; `/load FILE` restores both, so the conversation continues exactly (the sampler's
//! random state is part of the blob).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft::sample::SamplerConfig;
use weft::tokenizer::{ChatMessage, ChatTemplate, StreamDecoder, Tokenizer};
use weft::{Input, Model, Session};

use crate::CliResult;
use crate::common::{self, SamplingArgs, SessionArgs};

#[derive(clap::Args)]
#[command(after_help = "Commands (a line starting with /):
  /reset        forget the conversation
  /save FILE    write the session state (fixed-size blob) to FILE and the transcript to FILE.json
  /load FILE    restore both; the conversation continues exactly where it was saved
  /quit         leave (so does end of input)

Examples:
  weft chat                                      # the bundled demo model
  printf 'And God said\\nThe LORD is my shepherd\\n' | weft chat --seed 1 -q")]
pub struct Args {
    /// GGUF model file [default: the bundled models/demo-text.gguf].
    pub model: Option<PathBuf>,
    /// A system message put before the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens per reply.
    #[arg(short = 'n', long = "n-predict", default_value_t = 256)]
    pub n_predict: usize,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub session: SessionArgs,
    /// Jinja chat template file, instead of the model's `tokenizer.chat_template` (ChatML when
    /// the model has none).
    #[arg(long, value_name = "FILE")]
    pub chat_template: Option<PathBuf>,
    /// Tokenizer file (Hugging Face tokenizer.json) when the model has none embedded.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// No prompts or statistics on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> CliResult {
    common::check_backend(args.session.backend)?;
    let sampler = args.sampling.config()?;
    let path = common::model_path(args.model.as_deref(), common::DEMO_TEXT)?;
    let model = common::load_model(&path, args.session.huge_pages)?;
    let tok = common::load_tokenizer(&model, &path, args.tokenizer.as_deref())?;
    let source = match &args.chat_template {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| format!("chat template {}: {e}", file.display()))?,
        ),
        None => model.chat_template().map(str::to_owned),
    };
    let template = ChatTemplate::from_metadata(source.as_deref())?;
    let mut chat = Chat::new(&model, tok, template, sampler, &args)?;

    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal() && !args.quiet;
    if interactive {
        eprintln!("chatting with {} — /help for commands", path.display());
    }
    let mut out = std::io::stdout().lock();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            eprint!("> ");
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(command) = text.strip_prefix('/') {
            match chat.command(command) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue(msg)) => {
                    if !args.quiet {
                        eprintln!("{msg}");
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            }
            continue;
        }
        if !chat.turn(text, &mut out)? {
            break; // stdout closed
        }
    }
    if !args.quiet {
        common::print_stats(
            &[
                format!(
                    "prompt {}",
                    common::rate(chat.fed_tokens, "tok", chat.feed_time)
                ),
                format!(
                    "generated {}",
                    common::rate(chat.gen_tokens, "tok", chat.gen_time)
                ),
            ],
            chat.session.state_size(),
        );
    }
    Ok(())
}

enum Flow {
    Continue(String),
    Quit,
}

struct Chat {
    session: Session,
    tok: Tokenizer,
    template: ChatTemplate,
    sampler: SamplerConfig,
    n_predict: usize,
    bos: String,
    eos: String,
    /// Text the template puts after an assistant message; a reply stops when it appears.
    stop: Option<String>,
    system: Option<String>,
    messages: Vec<ChatMessage>,
    /// Everything the session has consumed, as text.
    fed: String,
    fed_tokens: usize,
    feed_time: Duration,
    gen_tokens: usize,
    gen_time: Duration,
}

impl Chat {
    fn new(
        model: &Arc<Model>,
        tok: Tokenizer,
        template: ChatTemplate,
        sampler: SamplerConfig,
        args: &Args,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let name = |id: Option<u32>| id.and_then(|i| tok.id_to_token(i)).unwrap_or_default();
        let (bos, eos) = (name(tok.bos_id()), name(tok.eos_id()));
        let stop = turn_end(&template, &bos, &eos);
        let mut session = model.session(args.session.config())?;
        session.set_seed(sampler.seed);
        let mut chat = Chat {
            session,
            tok,
            template,
            sampler,
            n_predict: args.n_predict,
            bos,
            eos,
            stop,
            system: args.system.clone(),
            messages: Vec::new(),
            fed: String::new(),
            fed_tokens: 0,
            feed_time: Duration::ZERO,
            gen_tokens: 0,
            gen_time: Duration::ZERO,
        };
        chat.clear();
        Ok(chat)
    }

    /// Back to an empty conversation (the system message stays).
    fn clear(&mut self) {
        self.session.reset();
        self.session.set_seed(self.sampler.seed);
        self.messages.clear();
        self.messages
            .extend(self.system.iter().map(|s| ChatMessage::new("system", s)));
        self.fed.clear();
    }

    fn command(&mut self, line: &str) -> Result<Flow, Box<dyn std::error::Error>> {
        let (cmd, arg) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        let file = || {
            if arg.is_empty() {
                Err(format!("/{cmd} needs a file name: /{cmd} FILE"))
            } else {
                Ok(Path::new(arg))
            }
        };
        Ok(match cmd {
            "quit" | "exit" | "q" => Flow::Quit,
            "reset" => {
                self.clear();
                Flow::Continue("conversation reset".into())
            }
            "save" => Flow::Continue(self.save(file()?)?),
            "load" => Flow::Continue(self.load(file()?)?),
            "help" | "?" => Flow::Continue(
                "/reset · /save FILE · /load FILE · /quit; anything else is your message".into(),
            ),
            other => Flow::Continue(format!("unknown command /{other} (try /help)")),
        })
    }

    fn save(&self, path: &Path) -> Result<String, Box<dyn std::error::Error>> {
        let mut blob = vec![0u8; self.session.state_size()];
        self.session.save_state(&mut blob)?;
        std::fs::write(path, &blob).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let transcript = json!({"weft_chat": 1, "messages": messages, "fed": self.fed});
        let side = transcript_path(path);
        std::fs::write(&side, serde_json::to_string_pretty(&transcript)? + "\n")
            .map_err(|e| format!("cannot write {}: {e}", side.display()))?;
        Ok(format!(
            "saved {} bytes of state to {} (transcript: {})",
            blob.len(),
            path.display(),
            side.display()
        ))
    }

    fn load(&mut self, path: &Path) -> Result<String, Box<dyn std::error::Error>> {
        let blob =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let side = transcript_path(path);
        let text = std::fs::read_to_string(&side).map_err(|e| {
            format!(
                "cannot read the transcript {} saved with the state: {e}",
                side.display()
            )
        })?;
        let bad = || format!("{} is not a weft chat transcript", side.display());
        let v: Value = serde_json::from_str(&text).map_err(|_| bad())?;
        let fed = v["fed"].as_str().ok_or_else(bad)?.to_owned();
        let messages = v["messages"]
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|m| match (m["role"].as_str(), m["content"].as_str()) {
                (Some(r), Some(c)) => Ok(ChatMessage::new(r, c)),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Checks everything before changing the session; a mismatch leaves it as it was.
        self.session
            .load_state(&blob)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.messages = messages;
        self.fed = fed;
        Ok(format!(
            "loaded {} ({} messages, position {})",
            path.display(),
            self.messages.len(),
            self.session.position()
        ))
    }

    /// One user message and the streamed reply. `Ok(false)` when stdout was closed.
    fn turn(
        &mut self,
        user: &str,
        out: &mut impl Write,
    ) -> Result<bool, Box<dyn std::error::Error>> {
        self.messages.push(ChatMessage::new("user", user));
        let full = match self
            .template
            .render(&self.messages, true, &self.bos, &self.eos)
        {
            Ok(t) => t,
            Err(e) => {
                self.messages.pop();
                return Err(e.into());
            }
        };
        let delta = match full.strip_prefix(self.fed.as_str()) {
            Some(d) => d.to_owned(),
            None => {
                // The template changed text the session has already seen: start over.
                let messages = std::mem::take(&mut self.messages);
                self.clear();
                self.messages = messages;
                full.clone()
            }
        };
        let ids = self.tok.encode(&delta, false)?;
        let t0 = Instant::now();
        if !ids.is_empty() {
            self.session.prefill(&ids)?;
        } else if self.session.logits().is_none() {
            return Err("the chat template rendered nothing to feed the model".into());
        }
        self.feed_time += t0.elapsed();
        self.fed_tokens += ids.len();
        self.fed.push_str(&delta);

        let t1 = Instant::now();
        let mut dec = StreamDecoder::new(&self.tok, false);
        let mut filter = StopFilter::new(self.stop.clone());
        let mut generated = Vec::new();
        let mut open = true;
        let mut next = match self.n_predict {
            0 => None,
            _ => Some(self.session.sample(&self.sampler)?),
        };
        while let Some(t) = next.filter(|&t| Some(t) != self.tok.eos_id()) {
            generated.push(t);
            let mut stopped = false;
            if let Some(piece) = dec.push(t)? {
                let (show, stop) = filter.push(piece);
                if open && !show.is_empty() {
                    open = common::emit(out, &show)?;
                }
                stopped = stop;
            }
            if stopped || generated.len() == self.n_predict {
                self.session.step(Input::Token(t))?;
                break;
            }
            // Feed the token and draw the next: on the GPU the draw runs there and only its id
            // is read back (the same draws as sample-then-step on the CPU).
            next = Some(self.session.step_sample(t, &self.sampler)?);
        }
        if !filter.stopped
            && let Some(piece) = dec.flush()?
        {
            let (show, _) = filter.push(piece);
            if open {
                open = common::emit(out, &show)?;
            }
        }
        if open && !filter.stopped {
            open = common::emit(out, &filter.pending)?;
        }
        if open {
            open = common::emit(out, "\n")?;
        }
        self.gen_time += t1.elapsed();
        self.gen_tokens += generated.len();

        let text = self.tok.decode(&generated)?;
        let reply = match &self.stop {
            Some(stop) => text.find(stop.as_str()).map_or(&text[..], |i| &text[..i]),
            None => &text[..],
        };
        self.messages.push(ChatMessage::new("assistant", reply));
        self.fed.push_str(&text);
        Ok(open)
    }
}

/// `FILE.json` beside a saved state `FILE`.
fn transcript_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The text the template writes right after an assistant message's content (its end-of-turn
/// marker without trailing whitespace, e.g. `<|im_end|>`; a bare newline when that is all),
/// or `None` when it writes nothing there.
fn turn_end(template: &ChatTemplate, bos: &str, eos: &str) -> Option<String> {
    const MARK: &str = "\u{E000}weft-reply\u{E000}";
    let messages = [
        ChatMessage::new("user", "hello"),
        ChatMessage::new("assistant", MARK),
    ];
    let text = template.render(&messages, false, bos, eos).ok()?;
    let after = &text[text.find(MARK)? + MARK.len()..];
    let marker = after.trim();
    match (marker.is_empty(), after.is_empty()) {
        (false, _) => Some(marker.to_owned()),
        (true, false) => Some(after.to_owned()),
        (true, true) => None,
    }
}

/// Passes text through until `stop` appears, holding back a tail that might be its beginning.
struct StopFilter {
    stop: Option<String>,
    pending: String,
    stopped: bool,
}

impl StopFilter {
    fn new(stop: Option<String>) -> Self {
        StopFilter {
            stop,
            pending: String::new(),
            stopped: false,
        }
    }

    /// Adds `piece`; returns the text that is safe to show and whether `stop` was reached.
    fn push(&mut self, piece: &str) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        let Some(stop) = &self.stop else {
            return (piece.to_owned(), false);
        };
        self.pending.push_str(piece);
        if let Some(i) = self.pending.find(stop.as_str()) {
            self.stopped = true;
            let show = self.pending[..i].to_owned();
            self.pending.clear();
            return (show, true);
        }
        let len = self.pending.len();
        let hold = (1..stop.len().min(len + 1))
            .rev()
            .find(|&k| {
                self.pending.is_char_boundary(len - k) && stop.starts_with(&self.pending[len - k..])
            })
            .unwrap_or(0);
        let show: String = self.pending.drain(..len - hold).collect();
        (show, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_filter_holds_back_a_possible_marker() {
        let mut f = StopFilter::new(Some("<|im_end|>".into()));
        assert_eq!(f.push("Hello <|im"), ("Hello ".into(), false));
        assert_eq!(f.push("_e"), (String::new(), false));
        assert_eq!(f.push("nd|>\nmore"), (String::new(), true));
        let mut f = StopFilter::new(Some("\n".into()));
        assert_eq!(f.push("a verse."), ("a verse.".into(), false));
        assert_eq!(f.push(" end\nnext"), (" end".into(), true));
        let mut f = StopFilter::new(Some("<|x|>".into()));
        assert_eq!(f.push("<|y"), ("<|y".into(), false));
    }

    #[test]
    fn turn_end_of_chatml_and_plain_templates() {
        assert_eq!(
            turn_end(&ChatTemplate::chatml(), "", "").as_deref(),
            Some("<|im_end|>")
        );
        let plain = ChatTemplate::new(
            "{{ bos_token }}{% for message in messages %}{{ message['content'] }}\n{% endfor %}",
        )
        .unwrap();
        assert_eq!(turn_end(&plain, "<s>", "</s>").as_deref(), Some("\n"));
        let bare = ChatTemplate::new("{% for m in messages %}{{ m.content }}{% endfor %}").unwrap();
        assert_eq!(turn_end(&bare, "", ""), None);
    }
}
