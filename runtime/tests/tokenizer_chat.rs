//! Chat-template rendering with real-world Jinja templates and the ChatML default.

mod tokenizer_fixtures;

use tokenizer_fixtures::{byte_level, id_of};
use weft::tokenizer::{ChatMessage, ChatTemplate, ChatTemplateError, DEFAULT_CHAT_TEMPLATE};

/// Qwen2-Instruct's `chat_template`, verbatim.
const QWEN2: &str = r"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Mistral-7B-Instruct-v0.1's `chat_template`, verbatim: bos/eos tokens and raise_exception.
const MISTRAL: &str = r"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

fn msgs(pairs: &[(&str, &str)]) -> Vec<ChatMessage> {
    pairs
        .iter()
        .map(|(r, c)| ChatMessage::new(*r, *c))
        .collect()
}

#[test]
fn qwen2_template_renders_like_transformers() {
    let t = ChatTemplate::new(QWEN2).unwrap();
    let m = msgs(&[("user", "Hi!"), ("assistant", "Hello."), ("user", "2+2?")]);
    assert_eq!(
        t.render(&m, true, "", "<|endoftext|>").unwrap(),
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n\
         <|im_start|>user\nHi!<|im_end|>\n\
         <|im_start|>assistant\nHello.<|im_end|>\n\
         <|im_start|>user\n2+2?<|im_end|>\n\
         <|im_start|>assistant\n"
    );
    // An explicit system message replaces the default one; no generation prompt.
    let m = msgs(&[("system", "Be terse."), ("user", "Hi")]);
    assert_eq!(
        t.render(&m, false, "", "").unwrap(),
        "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    );
}

#[test]
fn mistral_template_uses_bos_eos_and_raises_on_bad_roles() {
    let t = ChatTemplate::new(MISTRAL).unwrap();
    let m = msgs(&[
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "How are you?"),
    ]);
    assert_eq!(
        t.render(&m, true, "<s>", "</s>").unwrap(),
        "<s>[INST] Hi [/INST]Hello!</s>[INST] How are you? [/INST]"
    );
    let bad = msgs(&[("user", "a"), ("user", "b")]);
    match t.render(&bad, true, "<s>", "</s>") {
        Err(ChatTemplateError::Raised(msg)) => assert_eq!(
            msg,
            "Conversation roles must alternate user/assistant/user/assistant/..."
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn default_is_chatml() {
    let m = msgs(&[("system", "S"), ("user", "Hi")]);
    let want =
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    assert_eq!(
        ChatTemplate::chatml().render(&m, true, "", "").unwrap(),
        want
    );
    let from_none = ChatTemplate::from_metadata(None).unwrap();
    assert_eq!(from_none.render(&m, true, "", "").unwrap(), want);
    let explicit = ChatTemplate::from_metadata(Some(DEFAULT_CHAT_TEMPLATE)).unwrap();
    assert_eq!(explicit.render(&m, true, "", "").unwrap(), want);
    // Without the generation prompt the assistant header is absent.
    assert!(
        !ChatTemplate::chatml()
            .render(&m, false, "", "")
            .unwrap()
            .ends_with("assistant\n")
    );
}

#[test]
fn jinja_behaves_as_in_hugging_face() {
    // trim_blocks + lstrip_blocks: block tags on their own lines leave no blank lines behind,
    // and Python string methods work.
    let src = "{% for m in messages %}\n    {% if m.role == 'user' %}\n{{ m.role | upper }}: {{ m.content.strip() }}\n    {% else %}\n{{ m.role }}: {{ m.content.replace('a', 'A') }}{{ '!' if m.content.startswith('b') }}\n    {% endif %}\n{% endfor %}";
    let t = ChatTemplate::new(src).unwrap();
    let m = msgs(&[("user", "  hi  "), ("assistant", "banana")]);
    assert_eq!(
        t.render(&m, false, "", "").unwrap(),
        "USER: hi\nassistant: bAnAnA!\n"
    );
    // tojson as HF defines it (Python json.dumps): spaced separators, field order kept, no
    // HTML escaping; `indent` as in Llama 3.1's tool prompt.
    let t = ChatTemplate::new("{{ messages[0] | tojson }}").unwrap();
    let out = t
        .render(&msgs(&[("user", "a<b \"q\" é")]), false, "", "")
        .unwrap();
    assert_eq!(out, r#"{"role": "user", "content": "a<b \"q\" é"}"#);
    let t = ChatTemplate::new("{{ {'a': [1, 2], 'b': {}} | tojson(indent=2) }}").unwrap();
    assert_eq!(
        t.render(&[], false, "", "").unwrap(),
        "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}"
    );
}

#[test]
fn strftime_now_renders_a_date() {
    let t = ChatTemplate::new("{{ strftime_now('%Y') }}|{{ strftime_now('%d %b %Y') }}").unwrap();
    let out = t.render(&[], false, "", "").unwrap();
    let (year, date) = out.split_once('|').unwrap();
    let year: i32 = year.parse().unwrap();
    assert!(year >= 2025, "{out}");
    assert_eq!(date.len(), 11, "{out}");
    assert!(date.ends_with(&year.to_string()));
}

#[test]
fn bad_templates_are_typed_errors() {
    match ChatTemplate::new("{% for m in messages %}{{ m.content }}") {
        Err(e @ ChatTemplateError::Syntax(_)) => {
            assert!(e.to_string().contains("does not compile"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ChatTemplate::from_metadata(Some("{{ 1 + }}")),
        Err(ChatTemplateError::Syntax(_))
    ));
    // A runtime error that is not raise_exception: calling an unknown function.
    let t = ChatTemplate::new("{{ no_such_function() }}").unwrap();
    assert!(matches!(
        t.render(&[], false, "", ""),
        Err(ChatTemplateError::Render(_))
    ));
}

#[test]
fn rendered_prompt_encodes_markers_as_single_tokens() {
    let (tok, a) = byte_level();
    let prompt = ChatTemplate::chatml()
        .render(&msgs(&[("user", "hello world")]), true, "", "")
        .unwrap();
    let ids = tok.encode(&prompt, false).unwrap();
    let start = id_of(&a, "<|im_start|>");
    let end = id_of(&a, "<|im_end|>");
    assert_eq!(ids.iter().filter(|&&i| i == start).count(), 2);
    assert_eq!(ids.iter().filter(|&&i| i == end).count(), 1);
    assert_eq!(ids[0], start);
    assert!(
        ids.windows(2)
            .any(|w| w == [id_of(&a, "hello"), id_of(&a, "Ġworld")])
    );
    assert_eq!(tok.decode(&ids).unwrap(), prompt);
}
