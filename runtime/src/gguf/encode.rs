//! Little-endian encoding of gguf strings and metadata values (the writer's half of `cursor.rs`).

use super::value::{MetaArray, MetaValue};

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Type tag followed by the value.
pub(crate) fn put_value(out: &mut Vec<u8>, v: &MetaValue) {
    out.extend_from_slice(&v.meta_type().id().to_le_bytes());
    match v {
        MetaValue::U8(x) => out.push(*x),
        MetaValue::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::Bool(x) => out.push(u8::from(*x)),
        MetaValue::String(x) => put_str(out, x),
        MetaValue::Array(a) => put_array(out, a),
        MetaValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

macro_rules! put_all {
    ($out:expr, $v:expr) => {
        for x in $v {
            $out.extend_from_slice(&x.to_le_bytes());
        }
    };
}

/// Element type, u64 count, elements.
fn put_array(out: &mut Vec<u8>, a: &MetaArray) {
    out.extend_from_slice(&a.elem_type().id().to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    match a {
        MetaArray::U8(v) => out.extend_from_slice(v),
        MetaArray::I8(v) => put_all!(out, v),
        MetaArray::U16(v) => put_all!(out, v),
        MetaArray::I16(v) => put_all!(out, v),
        MetaArray::U32(v) => put_all!(out, v),
        MetaArray::I32(v) => put_all!(out, v),
        MetaArray::F32(v) => put_all!(out, v),
        MetaArray::Bool(v) => out.extend(v.iter().map(|&b| u8::from(b))),
        MetaArray::String(v) => v.iter().for_each(|s| put_str(out, s)),
        MetaArray::Array(v) => v.iter().for_each(|inner| put_array(out, inner)),
        MetaArray::U64(v) => put_all!(out, v),
        MetaArray::I64(v) => put_all!(out, v),
        MetaArray::F64(v) => put_all!(out, v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_gguf_layout() {
        let mut out = Vec::new();
        put_value(&mut out, &MetaValue::from(vec!["ab".to_string()]));
        let expect: Vec<u8> = [
            &9u32.to_le_bytes()[..],
            &8u32.to_le_bytes(),
            &1u64.to_le_bytes(),
            &2u64.to_le_bytes(),
            b"ab",
        ]
        .concat();
        assert_eq!(out, expect);
        out.clear();
        put_value(&mut out, &MetaValue::Bool(true));
        assert_eq!(out, [7, 0, 0, 0, 1]);
    }
}
