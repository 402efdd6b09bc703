//! Typed metadata getters. `get_*` fail with `MissingKey`; `opt_*` return `Ok(None)` for a missing
//! key. Both fail with `WrongType` / `OutOfRange` naming the key when the value does not convert.
//! Integer getters accept any integer type whose value fits, since writers differ (gguf-py stores
//! Python ints in arrays as i32).

use super::error::GgufError;
use super::file::Gguf;
use super::value::{MetaArray, MetaValue};

fn wrong(key: &str, expected: &'static str, v: &MetaValue) -> GgufError {
    GgufError::WrongType {
        key: key.to_string(),
        expected,
        found: v.type_name(),
    }
}

fn int<T: TryFrom<i128>>(key: &str, target: &'static str, v: &MetaValue) -> Result<T, GgufError> {
    let x = v.as_int().ok_or_else(|| wrong(key, target, v))?;
    T::try_from(x).map_err(|_| GgufError::OutOfRange {
        key: key.to_string(),
        value: x.to_string(),
        target,
    })
}

fn int_array<T: TryFrom<i128>>(
    key: &str,
    target: &'static str,
    v: &MetaValue,
) -> Result<Vec<T>, GgufError> {
    let arr = match v {
        MetaValue::Array(a) if a.is_integer() => a,
        _ => return Err(wrong(key, target, v)),
    };
    (0..arr.len())
        .map(|i| {
            let x = arr.int_at(i).unwrap_or_default();
            T::try_from(x).map_err(|_| GgufError::OutOfRange {
                key: key.to_string(),
                value: format!("element {i} = {x}"),
                target,
            })
        })
        .collect()
}

/// Defines `get_$name` (required) and `opt_$name` (optional) from one conversion.
macro_rules! getter {
    ($get:ident, $opt:ident, $t:ty, |$key:ident, $v:ident| $conv:expr) => {
        #[doc = concat!("The value of `key` as `", stringify!($t), "`; `MissingKey` if absent.")]
        pub fn $get(&self, $key: &str) -> Result<$t, GgufError> {
            let $v = self.require($key)?;
            $conv
        }

        #[doc = concat!("The value of `key` as `", stringify!($t), "`, or `None` if absent.")]
        pub fn $opt(&self, $key: &str) -> Result<Option<$t>, GgufError> {
            match self.get($key) {
                None => Ok(None),
                Some($v) => $conv.map(Some),
            }
        }
    };
}

impl Gguf {
    fn require(&self, key: &str) -> Result<&MetaValue, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_string(),
        })
    }

    getter!(get_u32, opt_u32, u32, |key, v| int(key, "u32", v));
    getter!(get_u64, opt_u64, u64, |key, v| int(key, "u64", v));
    getter!(get_i32, opt_i32, i32, |key, v| int(key, "i32", v));
    getter!(get_i64, opt_i64, i64, |key, v| int(key, "i64", v));
    getter!(get_f32, opt_f32, f32, |key, v| match *v {
        MetaValue::F32(x) => Ok(x),
        MetaValue::F64(x) => Ok(x as f32),
        _ => Err(wrong(key, "f32", v)),
    });
    getter!(get_bool, opt_bool, bool, |key, v| match *v {
        MetaValue::Bool(x) => Ok(x),
        _ => Err(wrong(key, "bool", v)),
    });
    getter!(get_str, opt_str, &str, |key, v| v
        .as_str()
        .ok_or_else(|| wrong(key, "string", v)));
    getter!(get_u32_array, opt_u32_array, Vec<u32>, |key, v| int_array(
        key,
        "array of u32",
        v
    ));
    getter!(get_i32_array, opt_i32_array, Vec<i32>, |key, v| int_array(
        key,
        "array of i32",
        v
    ));
    getter!(get_f32_array, opt_f32_array, &[f32], |key, v| match v {
        MetaValue::Array(MetaArray::F32(x)) => Ok(x.as_slice()),
        _ => Err(wrong(key, "array[f32]", v)),
    });
    getter!(get_str_array, opt_str_array, &[String], |key, v| match v {
        MetaValue::Array(MetaArray::String(x)) => Ok(x.as_slice()),
        _ => Err(wrong(key, "array[string]", v)),
    });
}
