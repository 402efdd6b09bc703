//! `tojson` as Hugging Face defines it for chat templates: Python's `json.dumps(x,
//! ensure_ascii=False)`, i.e. `", "` / `": "` separators, no HTML escaping, optional `indent`.
//! minijinja's built-in filter is compact and HTML-escapes `<>&'`, which changes tool prompts.

use std::io;

use minijinja::value::{Kwargs, Value};
use minijinja::{Error, ErrorKind};
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter, Serializer};

/// Python's default (non-indented) separators.
struct PythonCompact;

impl Formatter for PythonCompact {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

fn write<F: Formatter>(value: &Value, fmt: F) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    value.serialize(&mut Serializer::with_formatter(&mut out, fmt))?;
    Ok(out)
}

/// The `tojson` filter: `{{ x | tojson }}` or `{{ x | tojson(indent=4) }}`.
pub(super) fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let bytes = match indent {
        // Python's indented output uses "," + newline and ": ", exactly serde_json's pretty form.
        Some(n) => write(
            value,
            PrettyFormatter::with_indent(" ".repeat(n).as_bytes()),
        ),
        None => write(value, PythonCompact),
    }
    .map_err(|e| Error::new(ErrorKind::InvalidOperation, "tojson failed").with_source(e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, "tojson failed").with_source(e))?;
    Ok(Value::from_safe_string(text))
}
