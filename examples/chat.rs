//! A chat loop over the weft API: reads your messages from stdin (one per line), renders the
//! conversation with the model's chat template, feeds the session only the text it has not seen
//! yet (its fixed-size state carries the rest) and streams the reply. A reply ends at the
//! end-of-text token, at the end of its line, or after 200 tokens.
//!
//!     cargo run --release -p weft-examples --example chat [-- MODEL.gguf]
//!     printf 'And God said\nThe LORD is my shepherd\n' | cargo run -p weft-examples --example chat

use std::error::Error;
use std::io::{BufRead, Write};
use std::sync::Arc;

use weft::sample::SamplerConfig;
use weft::tokenizer::{ChatMessage, ChatTemplate, StreamDecoder};
use weft::{Input, Model, SessionConfig};
use weft_examples::bundled_model;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(|| bundled_model("demo-text.gguf"));
    let model = Arc::new(Model::load(&path)?);
    let tok = model.tokenizer()?.ok_or("the model has no tokenizer")?;
    let template = ChatTemplate::from_metadata(model.chat_template())?;
    let special = |id: Option<u32>| id.and_then(|i| tok.id_to_token(i)).unwrap_or_default();
    let (bos, eos) = (special(tok.bos_id()), special(tok.eos_id()));
    let end_of_turn = tok.token_to_id("<|im_end|>"); // ChatML models end turns with it

    let mut session = model.session(SessionConfig::default())?;
    session.set_seed(42);
    let sampler = SamplerConfig::default(); // temperature 0.8, top-k 40, top-p 0.95, min-p 0.05
    let mut messages: Vec<ChatMessage> = Vec::new();
    let mut seen = String::new(); // everything the session has consumed, as text
    let mut out = std::io::stdout().lock();

    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        messages.push(ChatMessage::new("user", line.trim()));
        let prompt = template.render(&messages, true, &bos, &eos)?;
        let new_text = match prompt.strip_prefix(seen.as_str()) {
            Some(rest) => rest.to_owned(),
            None => {
                session.reset(); // the template rewrote earlier text: start over
                prompt.clone()
            }
        };
        session.prefill(&tok.encode(&new_text, false)?)?;
        seen = prompt;

        let mut decoder = StreamDecoder::new(&tok, true);
        let (mut ids, mut reply) = (Vec::new(), String::new());
        for _ in 0..200 {
            let id = session.sample(&sampler)?;
            if Some(id) == tok.eos_id() || Some(id) == end_of_turn {
                break;
            }
            session.step(Input::Token(id))?;
            ids.push(id);
            if let Some(piece) = decoder.push(id)? {
                let done = piece.contains('\n');
                let shown = piece.split('\n').next().unwrap_or_default();
                out.write_all(shown.as_bytes())?;
                out.flush()?;
                reply.push_str(shown);
                if done {
                    break;
                }
            }
        }
        writeln!(out)?;
        seen.push_str(&tok.decode(&ids)?);
        messages.push(ChatMessage::new("assistant", reply));
    }
    Ok(())
}
