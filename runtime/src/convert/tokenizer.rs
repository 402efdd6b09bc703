//! Tokenizer metadata: the Hugging Face `tokenizer.json` embedded verbatim as
//! `tokenizer.huggingface.json`, plus llama.cpp's `tokenizer.ggml.*` arrays when the tokenizer is
//! byte-level BPE (llama.cpp's `gpt2` model), special token ids and the chat template.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::ConvertError;
use super::config::HfConfig;
use super::hf::read_json;
use super::plan::to_u32;
use crate::gguf::MetaValue;

type Result<T> = std::result::Result<T, ConvertError>;

/// llama.cpp token types (`llama_token_type`).
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;

/// Key/values collected in order.
#[derive(Default)]
struct Kvs(Vec<(String, MetaValue)>);

impl Kvs {
    fn kv(&mut self, key: impl Into<String>, value: MetaValue) {
        self.0.push((key.into(), value));
    }
}

/// Every tokenizer key that can be derived from `dir` for a model with `vocab` embedding rows.
pub fn tokenizer_kvs(
    dir: &Path,
    config: &HfConfig,
    vocab: usize,
) -> Result<Vec<(String, MetaValue)>> {
    let mut plan = Kvs::default();
    let plan = &mut plan;
    let tok_path = dir.join("tokenizer.json");
    let mut ids: HashMap<String, u32> = HashMap::new();
    if tok_path.is_file() {
        let text = std::fs::read_to_string(&tok_path).map_err(|source| ConvertError::Io {
            path: tok_path.clone(),
            source,
        })?;
        let json: Value = serde_json::from_str(&text).map_err(|source| ConvertError::Json {
            path: tok_path.clone(),
            source,
        })?;
        plan.kv("tokenizer.huggingface.json", MetaValue::String(text));
        if let Some(bpe) = ByteLevelBpe::parse(&json, &tok_path)? {
            let (tokens, types) = bpe.token_table(vocab, &tok_path)?;
            plan.kv("tokenizer.ggml.model", MetaValue::String("gpt2".into()));
            plan.kv("tokenizer.ggml.tokens", MetaValue::from(tokens));
            plan.kv("tokenizer.ggml.token_type", MetaValue::from(types));
            plan.kv("tokenizer.ggml.merges", MetaValue::from(bpe.merges));
            ids = bpe.ids;
        } else {
            log::info!(
                "{}: not byte-level BPE; only tokenizer.huggingface.json is written",
                tok_path.display()
            );
        }
    }
    let tok_config = dir.join("tokenizer_config.json");
    let tc = if tok_config.is_file() {
        Some(read_json(&tok_config)?)
    } else {
        None
    };
    special_ids(plan, config, tc.as_ref(), &ids, vocab)?;
    if let Some(tc) = &tc {
        for (key, gguf) in [
            ("add_bos_token", "tokenizer.ggml.add_bos_token"),
            ("add_eos_token", "tokenizer.ggml.add_eos_token"),
        ] {
            if let Some(b) = tc.get(key).and_then(Value::as_bool) {
                plan.kv(gguf, MetaValue::Bool(b));
            }
        }
    }
    chat_template(plan, dir, tc.as_ref())?;
    Ok(std::mem::take(&mut plan.0))
}

/// The parts of a byte-level BPE `tokenizer.json` llama.cpp's `gpt2` vocabulary needs.
struct ByteLevelBpe {
    /// Token text → id (model vocab and added tokens).
    ids: HashMap<String, u32>,
    /// Ids of added tokens → whether they are special.
    added: HashMap<u32, bool>,
    merges: Vec<String>,
}

fn mentions_byte_level(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Object(o)) => {
            o.get("type").and_then(Value::as_str) == Some("ByteLevel")
                || o.values().any(|x| mentions_byte_level(Some(x)))
        }
        Some(Value::Array(a)) => a.iter().any(|x| mentions_byte_level(Some(x))),
        _ => false,
    }
}

impl ByteLevelBpe {
    fn parse(json: &Value, path: &Path) -> Result<Option<Self>> {
        let bad = |reason: String| ConvertError::Tokenizer {
            path: path.to_path_buf(),
            reason,
        };
        let model = json
            .get("model")
            .ok_or_else(|| bad("no \"model\" object".into()))?;
        let is_bpe = model.get("type").and_then(Value::as_str) == Some("BPE");
        if !is_bpe
            || !(mentions_byte_level(json.get("pre_tokenizer"))
                || mentions_byte_level(json.get("decoder")))
        {
            return Ok(None);
        }
        let vocab = model
            .get("vocab")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("BPE model has no \"vocab\" object".into()))?;
        let mut ids = HashMap::with_capacity(vocab.len());
        for (tok, id) in vocab {
            let id = id
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(|| bad(format!("vocab entry {tok:?} has a bad id {id}")))?;
            ids.insert(tok.clone(), id);
        }
        let mut added = HashMap::new();
        for t in json
            .get("added_tokens")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let content = t.get("content").and_then(Value::as_str);
            let id = t
                .get("id")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok());
            let (Some(content), Some(id)) = (content, id) else {
                return Err(bad(format!("added token {t} lacks \"id\" or \"content\"")));
            };
            ids.insert(content.to_string(), id);
            added.insert(
                id,
                t.get("special").and_then(Value::as_bool).unwrap_or(false),
            );
        }
        // tokenizers < 0.20 stores merges as "a b" strings, newer versions as ["a", "b"] pairs.
        let mut merges = Vec::new();
        for m in model
            .get("merges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match m {
                Value::String(s) => merges.push(s.clone()),
                Value::Array(pair) if pair.len() == 2 && pair.iter().all(Value::is_string) => {
                    merges.push(format!(
                        "{} {}",
                        pair[0].as_str().unwrap_or_default(),
                        pair[1].as_str().unwrap_or_default()
                    ))
                }
                other => return Err(bad(format!("bad merge entry {other}"))),
            }
        }
        Ok(Some(ByteLevelBpe { ids, added, merges }))
    }

    /// Tokens ordered by id and their llama.cpp types, padded to `vocab` with `[PAD{i}]` (UNUSED)
    /// as llama.cpp's converter does.
    fn token_table(&self, vocab: usize, path: &Path) -> Result<(Vec<String>, Vec<i32>)> {
        let mut tokens: Vec<Option<&str>> = vec![None; vocab];
        for (tok, &id) in &self.ids {
            let slot = tokens
                .get_mut(id as usize)
                .ok_or_else(|| ConvertError::Tokenizer {
                    path: path.to_path_buf(),
                    reason: format!(
                        "token {tok:?} has id {id}, beyond the model's vocabulary of {vocab}"
                    ),
                })?;
            *slot = Some(tok);
        }
        let mut types = Vec::with_capacity(vocab);
        let tokens = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| match t {
                None => {
                    types.push(UNUSED);
                    format!("[PAD{i}]")
                }
                Some(t) => {
                    types.push(match self.added.get(&(i as u32)) {
                        None => NORMAL,
                        Some(&special) if special || looks_special(t) => CONTROL,
                        Some(_) => USER_DEFINED,
                    });
                    t.to_string()
                }
            })
            .collect();
        Ok((tokens, types))
    }
}

/// llama.cpp's `does_token_look_special` heuristic for added tokens not flagged special.
fn looks_special(t: &str) -> bool {
    matches!(t, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (t.starts_with("<|") && t.ends_with("|>"))
        || (t.starts_with("<unused") && t.ends_with('>'))
}

/// bos/eos/unk/pad ids: the token named in tokenizer_config.json when the vocabulary knows it,
/// else the `*_token_id` of config.json.
fn special_ids(
    plan: &mut Kvs,
    config: &HfConfig,
    tc: Option<&Value>,
    ids: &HashMap<String, u32>,
    vocab: usize,
) -> Result<()> {
    for (what, gguf) in [
        ("bos", "tokenizer.ggml.bos_token_id"),
        ("eos", "tokenizer.ggml.eos_token_id"),
        ("unk", "tokenizer.ggml.unknown_token_id"),
        ("pad", "tokenizer.ggml.padding_token_id"),
    ] {
        let named = tc
            .and_then(|tc| tc.get(format!("{what}_token")))
            .and_then(|v| {
                v.as_str()
                    .or_else(|| v.get("content").and_then(Value::as_str))
            })
            .and_then(|s| ids.get(s).copied());
        let id = named.or_else(|| config.first_token_id(&format!("{what}_token_id")));
        if let Some(id) = id.filter(|&id| (id as usize) < vocab) {
            plan.kv(gguf, MetaValue::U32(to_u32(gguf, id as usize)?));
        }
    }
    Ok(())
}

/// `tokenizer.chat_template` from tokenizer_config.json (a string, or a list of named templates
/// whose "default" becomes the main one) or from a `chat_template.jinja` file.
fn chat_template(plan: &mut Kvs, dir: &Path, tc: Option<&Value>) -> Result<()> {
    match tc.and_then(|tc| tc.get("chat_template")) {
        Some(Value::String(s)) => plan.kv("tokenizer.chat_template", MetaValue::String(s.clone())),
        Some(Value::Array(list)) => {
            for t in list {
                let (Some(name), Some(tmpl)) = (
                    t.get("name").and_then(Value::as_str),
                    t.get("template").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let key = if name == "default" {
                    "tokenizer.chat_template".to_string()
                } else {
                    format!("tokenizer.chat_template.{name}")
                };
                plan.kv(key, MetaValue::String(tmpl.to_string()));
            }
        }
        _ => {
            let jinja = dir.join("chat_template.jinja");
            if jinja.is_file() {
                let s = std::fs::read_to_string(&jinja).map_err(|source| ConvertError::Io {
                    path: jinja,
                    source,
                })?;
                plan.kv("tokenizer.chat_template", MetaValue::String(s));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKENIZER: &str = include_str!("testdata/tokenizer.json");
    const TOKENIZER_CONFIG: &str = include_str!("testdata/tokenizer_config.json");

    fn get<'a>(kvs: &'a [(String, MetaValue)], key: &str) -> Option<&'a MetaValue> {
        kvs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn byte_level_bpe_gives_gpt2_arrays_padded_to_the_vocab() {
        let dir = folder(&[
            ("tokenizer.json", TOKENIZER),
            ("tokenizer_config.json", TOKENIZER_CONFIG),
        ]);
        let config =
            HfConfig::new(json!({"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 3}))
                .unwrap();
        let kvs = tokenizer_kvs(dir.path(), &config, 13).unwrap();

        assert_eq!(
            get(&kvs, "tokenizer.huggingface.json"),
            Some(&MetaValue::String(TOKENIZER.to_string()))
        );
        assert_eq!(
            get(&kvs, "tokenizer.ggml.model"),
            Some(&MetaValue::String("gpt2".into()))
        );
        let tokens: Vec<String> = [
            "h",
            "e",
            "l",
            "o",
            "Ġ",
            "he",
            "ll",
            "hell",
            "hello",
            "<|endoftext|>",
            "<user>",
            "[PAD11]",
            "[PAD12]",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            get(&kvs, "tokenizer.ggml.tokens"),
            Some(&MetaValue::from(tokens))
        );
        assert_eq!(
            get(&kvs, "tokenizer.ggml.token_type"),
            Some(&MetaValue::from(vec![
                1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 4, 5, 5
            ]))
        );
        let merges = ["h e", "l l", "he ll", "hell o"].map(String::from).to_vec();
        assert_eq!(
            get(&kvs, "tokenizer.ggml.merges"),
            Some(&MetaValue::from(merges))
        );
        // Named tokens in tokenizer_config.json win over config.json ids; pad falls back to config.json.
        assert_eq!(
            get(&kvs, "tokenizer.ggml.bos_token_id"),
            Some(&MetaValue::U32(9))
        );
        assert_eq!(
            get(&kvs, "tokenizer.ggml.eos_token_id"),
            Some(&MetaValue::U32(9))
        );
        assert_eq!(
            get(&kvs, "tokenizer.ggml.padding_token_id"),
            Some(&MetaValue::U32(3))
        );
        assert_eq!(get(&kvs, "tokenizer.ggml.unknown_token_id"), None);
        assert_eq!(
            get(&kvs, "tokenizer.ggml.add_bos_token"),
            Some(&MetaValue::Bool(false))
        );
        assert_eq!(
            get(&kvs, "tokenizer.chat_template"),
            Some(&MetaValue::String(
                "{% for m in messages %}{{ m.content }}{% endfor %}".into()
            ))
        );
    }

    #[test]
    fn string_merges_jinja_template_and_config_ids() {
        let old = TOKENIZER.replace(
            r#"[["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"]]"#,
            r#"["h e", "l l", "he ll", "hell o"]"#,
        );
        let dir = folder(&[("tokenizer.json", &old), ("chat_template.jinja", "{{ x }}")]);
        let config = HfConfig::new(json!({"bos_token_id": 0, "eos_token_id": [1, 2]})).unwrap();
        let kvs = tokenizer_kvs(dir.path(), &config, 11).unwrap();
        let merges = ["h e", "l l", "he ll", "hell o"].map(String::from).to_vec();
        assert_eq!(
            get(&kvs, "tokenizer.ggml.merges"),
            Some(&MetaValue::from(merges))
        );
        assert_eq!(
            get(&kvs, "tokenizer.ggml.bos_token_id"),
            Some(&MetaValue::U32(0))
        );
        assert_eq!(
            get(&kvs, "tokenizer.ggml.eos_token_id"),
            Some(&MetaValue::U32(1))
        );
        assert_eq!(
            get(&kvs, "tokenizer.chat_template"),
            Some(&MetaValue::String("{{ x }}".into()))
        );
    }

    #[test]
    fn non_byte_level_is_embedded_only_and_oversized_ids_are_errors() {
        let unigram = r#"{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#;
        let dir = folder(&[("tokenizer.json", unigram)]);
        let kvs = tokenizer_kvs(dir.path(), &HfConfig::new(json!({})).unwrap(), 4).unwrap();
        assert!(get(&kvs, "tokenizer.huggingface.json").is_some());
        assert!(get(&kvs, "tokenizer.ggml.model").is_none());

        let dir = folder(&[("tokenizer.json", TOKENIZER)]);
        let err = tokenizer_kvs(dir.path(), &HfConfig::new(json!({})).unwrap(), 8).unwrap_err();
        assert!(matches!(err, ConvertError::Tokenizer { .. }), "{err}");
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }

    #[test]
    fn no_tokenizer_files_gives_only_config_ids() {
        let dir = folder(&[]);
        let config = HfConfig::new(json!({"bos_token_id": 1, "eos_token_id": 2})).unwrap();
        let kvs = tokenizer_kvs(dir.path(), &config, 4).unwrap();
        assert_eq!(kvs.len(), 2);
        assert_eq!(
            get(&kvs, "tokenizer.ggml.eos_token_id"),
            Some(&MetaValue::U32(2))
        );
    }
}
