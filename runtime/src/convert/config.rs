//! Typed access to a Hugging Face `config.json`, with transformers' class defaults for absent keys.

use serde_json::{Map, Value};

use super::ConvertError;

/// The parsed `config.json` object.
#[derive(Debug, Clone)]
pub struct HfConfig {
    map: Map<String, Value>,
}

type Result<T> = std::result::Result<T, ConvertError>;

impl HfConfig {
    /// Wraps a parsed JSON value; the top level must be an object.
    pub fn new(value: Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            _ => Err(ConvertError::config("<root>", "must be a JSON object")),
        }
    }

    /// The raw value of `key`, treating JSON `null` as absent (transformers does the same).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// `architectures[0]`.
    pub fn architecture(&self) -> Result<String> {
        let first = self
            .get("architectures")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str);
        first
            .map(str::to_string)
            .ok_or_else(|| ConvertError::config("architectures", "is missing or empty"))
    }

    /// A non-negative integer, if present.
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    ConvertError::config(key, format!("must be a non-negative integer, got {v}"))
                }),
        }
    }

    /// A non-negative integer, or `default` when absent.
    pub fn usize_or(&self, key: &str, default: usize) -> Result<usize> {
        Ok(self.opt_usize(key)?.unwrap_or(default))
    }

    /// A required non-negative integer.
    pub fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?
            .ok_or_else(|| ConvertError::config(key, "is missing"))
    }

    /// A positive integer, or `default` when absent.
    pub fn positive_or(&self, key: &str, default: usize) -> Result<usize> {
        let v = self.usize_or(key, default)?;
        if v == 0 {
            return Err(ConvertError::config(key, "must be positive"));
        }
        Ok(v)
    }

    /// A number, or `default` when absent.
    pub fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| ConvertError::config(key, format!("must be a number, got {v}"))),
        }
    }

    /// A boolean, or `default` when absent.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| ConvertError::config(key, format!("must be a boolean, got {v}"))),
        }
    }

    /// A string, if present.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| ConvertError::config(key, format!("must be a string, got {v}"))),
        }
    }

    /// An integer that may be the string `"auto"` (Mamba dt rank): `auto()` computes the value.
    pub fn usize_or_auto(&self, key: &str, auto: impl FnOnce() -> usize) -> Result<usize> {
        match self.get(key) {
            None => Ok(auto()),
            Some(Value::String(s)) if s == "auto" => Ok(auto()),
            Some(_) => self.usize(key),
        }
    }

    /// A list of strings, if present.
    pub fn opt_str_list(&self, key: &str) -> Result<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        ConvertError::config(key, format!("must be a list of strings, got {v}"))
                    })
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(ConvertError::config(
                key,
                format!("must be a list, got {v}"),
            )),
        }
    }

    /// A token id that transformers allows to be a list (`eos_token_id`): the first entry.
    pub fn first_token_id(&self, key: &str) -> Option<u32> {
        match self.get(key)? {
            Value::Array(items) => items.first()?.as_u64(),
            v => v.as_u64(),
        }
        .and_then(|n| u32::try_from(n).ok())
    }

    /// RoPE theta: transformers 5 keeps it in `rope_parameters.rope_theta`, 4.x at the top level.
    pub fn rope_theta(&self, default: f64) -> Result<f64> {
        if let Some(params) = self.rope_parameters()
            && let Some(theta) = params.get("rope_theta").filter(|v| !v.is_null())
        {
            return theta.as_f64().ok_or_else(|| {
                ConvertError::config("rope_parameters.rope_theta", "must be a number")
            });
        }
        self.f64_or("rope_theta", default)
    }

    /// `rope_parameters` (5.x) or `rope_scaling` (4.x), if present.
    pub fn rope_parameters(&self) -> Option<&Map<String, Value>> {
        self.get("rope_parameters")
            .or_else(|| self.get("rope_scaling"))
            .and_then(Value::as_object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_nulls_and_auto() {
        let c = HfConfig::new(json!({
            "architectures": ["MambaForCausalLM"], "hidden_size": 64, "pad": null,
            "time_step_rank": "auto", "eos_token_id": [7, 8], "rope_theta": 500.0
        }))
        .unwrap();
        assert_eq!(c.architecture().unwrap(), "MambaForCausalLM");
        assert_eq!(c.usize("hidden_size").unwrap(), 64);
        assert_eq!(c.usize_or("pad", 3).unwrap(), 3);
        assert_eq!(c.usize_or_auto("time_step_rank", || 4).unwrap(), 4);
        assert_eq!(c.first_token_id("eos_token_id"), Some(7));
        assert_eq!(c.rope_theta(10000.0).unwrap(), 500.0);
        let err = c.usize("missing").unwrap_err().to_string();
        assert!(err.contains("\"missing\""), "{err}");
    }

    #[test]
    fn rope_parameters_take_precedence() {
        let c = HfConfig::new(json!({"rope_parameters": {"rope_theta": 42.0}, "rope_theta": 1.0}))
            .unwrap();
        assert_eq!(c.rope_theta(10000.0).unwrap(), 42.0);
    }
}
