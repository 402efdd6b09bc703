//! Incremental, UTF-8-safe detokenisation.
//!
//! Decoding tokens one at a time is wrong in two ways: a multi-byte character can be split across
//! tokens (byte-level BPE, byte-fallback `<0xE2>` tokens), and some decoders depend on context
//! (SentencePiece strips the leading space of the first piece only). So each step decodes a short
//! window of context + new tokens, emits only the text past the context, and holds everything
//! while the window ends in an incomplete character (U+FFFD from the lossy byte decoding).

use super::{Tokenizer, TokenizerError};

const REPLACEMENT: char = '\u{FFFD}';

/// Turns a stream of token ids into text pieces that never split a character.
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    tok: Tokenizer,
    skip_special: bool,
    /// Already-emitted context ids (the first `context` entries), then ids not yet emitted.
    ids: Vec<u32>,
    context: usize,
    /// Decoded text of the context ids alone.
    prefix: String,
    /// The last piece handed out; reused so pieces need no fresh allocation per token.
    out: String,
}

impl StreamDecoder {
    /// With `skip_special`, special tokens (EOS, chat markers) produce no text.
    pub fn new(tok: &Tokenizer, skip_special: bool) -> Self {
        Self {
            tok: tok.clone(),
            skip_special,
            ids: Vec::new(),
            context: 0,
            prefix: String::new(),
            out: String::new(),
        }
    }

    /// Feeds one token; returns the new text once it ends on a complete character, else `None`
    /// (the bytes are held for the next call). An unknown id is an error and is not consumed.
    pub fn push(&mut self, id: u32) -> Result<Option<&str>, TokenizerError> {
        if self.tok.id_to_token(id).is_none() {
            return Err(self.tok.unknown(id));
        }
        self.ids.push(id);
        let text = self.tok.decode_with(&self.ids, self.skip_special)?;
        if text.len() <= self.prefix.len() || text.ends_with(REPLACEMENT) {
            return Ok(None);
        }
        self.emit(text)?;
        // The tokens just emitted become the context for the next ones; older ones are dropped.
        self.ids.drain(..self.context);
        self.context = self.ids.len();
        self.prefix = self.tok.decode_with(&self.ids, self.skip_special)?;
        Ok(Some(&self.out))
    }

    /// Emits whatever is held (an incomplete character comes out as U+FFFD) and starts afresh.
    /// Call it when generation ends.
    pub fn flush(&mut self) -> Result<Option<&str>, TokenizerError> {
        let mut emitted = false;
        if self.ids.len() > self.context {
            let text = self.tok.decode_with(&self.ids, self.skip_special)?;
            if text.len() > self.prefix.len() {
                self.emit(text)?;
                emitted = true;
            }
        }
        self.ids.clear();
        self.context = 0;
        self.prefix.clear();
        Ok(if emitted { Some(&self.out) } else { None })
    }

    /// Forgets all held tokens and context (e.g. when a new turn starts, or after an error).
    pub fn reset(&mut self) {
        self.ids.clear();
        self.context = 0;
        self.prefix.clear();
        self.out.clear();
    }

    fn emit(&mut self, text: String) -> Result<(), TokenizerError> {
        if !text.starts_with(self.prefix.as_str()) {
            return Err(TokenizerError::StreamPrefixMismatch {
                prefix: std::mem::take(&mut self.prefix),
                text,
            });
        }
        self.out.clear();
        self.out.push_str(&text[self.prefix.len()..]);
        Ok(())
    }
}
