//! How metadata values print (for `weft inspect` and error messages) and conversions into them.

use std::fmt;

use super::value::{MetaArray, MetaValue};

/// Arrays longer than this print their first elements and a count.
const PREVIEW: usize = 8;

fn fmt_items<T>(
    f: &mut fmt::Formatter<'_>,
    v: &[T],
    each: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    f.write_str("[")?;
    for (i, x) in v.iter().take(PREVIEW).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, x)?;
    }
    if v.len() > PREVIEW {
        write!(f, ", ... ({} total)", v.len())?;
    }
    f.write_str("]")
}

impl fmt::Display for MetaArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaArray::String(v) => fmt_items(f, v, |f, s| write!(f, "{s:?}")),
            MetaArray::Array(v) => fmt_items(f, v, |f, a| write!(f, "{a}")),
            MetaArray::Bool(v) => fmt_items(f, v, |f, x| write!(f, "{x}")),
            MetaArray::F32(v) => fmt_items(f, v, |f, x| write!(f, "{x}")),
            MetaArray::F64(v) => fmt_items(f, v, |f, x| write!(f, "{x}")),
            other => {
                let n = other.len();
                f.write_str("[")?;
                for i in 0..n.min(PREVIEW) {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(x) = other.int_at(i) {
                        write!(f, "{x}")?;
                    }
                }
                if n > PREVIEW {
                    write!(f, ", ... ({n} total)")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaValue::U8(v) => write!(f, "{v}"),
            MetaValue::I8(v) => write!(f, "{v}"),
            MetaValue::U16(v) => write!(f, "{v}"),
            MetaValue::I16(v) => write!(f, "{v}"),
            MetaValue::U32(v) => write!(f, "{v}"),
            MetaValue::I32(v) => write!(f, "{v}"),
            MetaValue::F32(v) => write!(f, "{v}"),
            MetaValue::Bool(v) => write!(f, "{v}"),
            MetaValue::String(v) => write!(f, "{v:?}"),
            MetaValue::Array(v) => write!(f, "{v}"),
            MetaValue::U64(v) => write!(f, "{v}"),
            MetaValue::I64(v) => write!(f, "{v}"),
            MetaValue::F64(v) => write!(f, "{v}"),
        }
    }
}

macro_rules! from_impls {
    ($($t:ty => $var:ident),* $(,)?) => {$(
        impl From<$t> for MetaValue {
            fn from(v: $t) -> Self {
                MetaValue::$var(v)
            }
        }
        impl From<Vec<$t>> for MetaArray {
            fn from(v: Vec<$t>) -> Self {
                MetaArray::$var(v)
            }
        }
        impl From<Vec<$t>> for MetaValue {
            fn from(v: Vec<$t>) -> Self {
                MetaValue::Array(MetaArray::$var(v))
            }
        }
    )*};
}

from_impls!(
    u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, f32 => F32,
    bool => Bool, String => String, u64 => U64, i64 => I64, f64 => F64,
);

impl From<&str> for MetaValue {
    fn from(v: &str) -> Self {
        MetaValue::String(v.to_string())
    }
}

impl From<MetaArray> for MetaValue {
    fn from(v: MetaArray) -> Self {
        MetaValue::Array(v)
    }
}

impl From<Vec<MetaArray>> for MetaValue {
    fn from(v: Vec<MetaArray>) -> Self {
        MetaValue::Array(MetaArray::Array(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_type_names() {
        let nested = MetaValue::from(vec![MetaArray::from(vec![1u8, 2]), MetaArray::I32(vec![])]);
        assert_eq!(nested.type_name(), "array[array[u8]]");
        assert_eq!(nested.to_string(), "[[1, 2], []]");
        assert_eq!(MetaValue::from("a\"b").to_string(), "\"a\\\"b\"");
        let long = MetaValue::from((0..10u32).collect::<Vec<_>>());
        assert_eq!(long.to_string(), "[0, 1, 2, 3, 4, 5, 6, 7, ... (10 total)]");
        assert_eq!(MetaValue::from(vec![-1i64]).to_string(), "[-1]");
        assert_eq!(MetaArray::Array(vec![]).type_name(), "array[array]");
    }
}
