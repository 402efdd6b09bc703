//! Chat templates: the Jinja string of `tokenizer.chat_template`, rendered with minijinja set up
//! the way Hugging Face's `apply_chat_template` sets up Jinja2.

use minijinja::{Environment, Error, ErrorKind, context};
use serde::Serialize;
use thiserror::Error;

use super::strftime::strftime_now;

/// ChatML, used when a model ships no template.
pub const DEFAULT_CHAT_TEMPLATE: &str = "{% for message in messages %}\
{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\
{% endfor %}\
{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const NAME: &str = "chat_template";

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, … (templates decide what they accept).
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

#[derive(Debug, Error)]
pub enum ChatTemplateError {
    #[error("chat template does not compile: {0}")]
    Syntax(#[source] Error),
    #[error("chat template raised: {0}")]
    Raised(String),
    #[error("rendering the chat template failed: {0}")]
    Render(#[source] Error),
}

/// A compiled chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl ChatTemplate {
    /// Compiles `source`; syntax errors are reported here rather than on first render.
    pub fn new(source: &str) -> Result<Self, ChatTemplateError> {
        let mut env = Environment::new();
        // HF renders with trim_blocks and lstrip_blocks on; templates are written for that.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // Python-isms templates use: `.strip()`, `.startswith()`, `.items()`, …
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", |fmt: String| strftime_now(&fmt));
        env.add_filter("tojson", super::pyjson::tojson);
        env.add_template_owned(NAME, source.to_owned())
            .map_err(ChatTemplateError::Syntax)?;
        Ok(Self { env })
    }

    /// The ChatML [`DEFAULT_CHAT_TEMPLATE`].
    pub fn chatml() -> Self {
        // A constant known to compile; the fallback only exists to avoid an `unwrap`.
        Self::new(DEFAULT_CHAT_TEMPLATE).unwrap_or_else(|_| Self {
            env: Environment::new(),
        })
    }

    /// The model's template (`tokenizer.chat_template`) or, when it has none, ChatML.
    pub fn from_metadata(source: Option<&str>) -> Result<Self, ChatTemplateError> {
        source.map_or_else(|| Ok(Self::chatml()), Self::new)
    }

    /// Renders the prompt for `messages`. With `add_generation_prompt`, it ends with the header
    /// of the assistant's turn so the model continues as the assistant.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<String, ChatTemplateError> {
        let tmpl = self
            .env
            .get_template(NAME)
            .map_err(ChatTemplateError::Render)?;
        tmpl.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => bos_token,
            eos_token => eos_token,
        })
        .map_err(|e| match raised_message(&e) {
            Some(msg) => ChatTemplateError::Raised(msg),
            None => ChatTemplateError::Render(e),
        })
    }
}

/// Prefix that marks errors from `raise_exception`, so `render` can report them as such.
const RAISED: &str = "raise_exception: ";

/// HF templates call `raise_exception("Conversation roles must alternate ...")`.
fn raise_exception(msg: String) -> Result<String, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("{RAISED}{msg}"),
    ))
}

fn raised_message(e: &Error) -> Option<String> {
    e.detail()
        .and_then(|d| d.strip_prefix(RAISED))
        .map(str::to_owned)
}
