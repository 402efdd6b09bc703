//! Bounds-checked little-endian reads over a byte slice. Every read either succeeds or says where
//! and by how much the input fell short; nothing here can index out of range.

use super::error::GgufError;

/// A failed read, before the caller has said what it was reading.
#[derive(Debug)]
pub(crate) enum ReadErr {
    Short {
        offset: u64,
        needed: u64,
        available: u64,
    },
    StrTooLong {
        offset: u64,
        len: u64,
        available: u64,
    },
    Utf8 {
        offset: u64,
    },
}

impl ReadErr {
    /// Attaches a description of what was being read ("value of key 'x'").
    pub(crate) fn what(self, what: String) -> GgufError {
        match self {
            ReadErr::Short {
                offset,
                needed,
                available,
            } => GgufError::Truncated {
                what,
                offset,
                needed,
                available,
            },
            ReadErr::StrTooLong {
                offset,
                len,
                available,
            } => GgufError::StringTooLong {
                what,
                offset,
                len,
                available,
            },
            ReadErr::Utf8 { offset } => GgufError::InvalidUtf8 { what, offset },
        }
    }
}

/// Lets `cursor.u32().what(|| ...)` build the context string only on failure.
pub(crate) trait What<T> {
    fn what(self, f: impl FnOnce() -> String) -> Result<T, GgufError>;
}

impl<T> What<T> for Result<T, ReadErr> {
    fn what(self, f: impl FnOnce() -> String) -> Result<T, GgufError> {
        self.map_err(|e| e.what(f()))
    }
}

pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

macro_rules! read_le {
    ($($name:ident: $t:ty),*) => {$(
        pub(crate) fn $name(&mut self) -> Result<$t, ReadErr> {
            let b = self.take(size_of::<$t>() as u64)?;
            let mut a = [0u8; size_of::<$t>()];
            a.copy_from_slice(b);
            Ok(<$t>::from_le_bytes(a))
        }
    )*};
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos as u64
    }

    pub(crate) fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8], ReadErr> {
        let short = ReadErr::Short {
            offset: self.pos(),
            needed: n,
            available: self.remaining(),
        };
        if n > self.remaining() {
            return Err(short);
        }
        let end = self.pos + n as usize;
        let out = self.buf.get(self.pos..end).ok_or(short)?;
        self.pos = end;
        Ok(out)
    }

    read_le!(u8: u8, i8: i8, u16: u16, i16: i16, u32: u32, i32: i32, u64: u64, i64: i64, f32: f32, f64: f64);

    /// A gguf string: u64 length, then that many UTF-8 bytes (no NUL).
    pub(crate) fn str(&mut self) -> Result<&'a str, ReadErr> {
        let offset = self.pos();
        let len = self.u64()?;
        if len > self.remaining() {
            return Err(ReadErr::StrTooLong {
                offset,
                len,
                available: self.remaining(),
            });
        }
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| ReadErr::Utf8 { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_reports_shortfall() {
        let mut c = Cursor::new(&[1, 0, 0, 0, 0xff, 2]);
        assert_eq!(c.u32().unwrap(), 1);
        assert_eq!(c.i8().unwrap(), -1);
        match c.u16() {
            Err(ReadErr::Short {
                offset: 5,
                needed: 2,
                available: 1,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(c.pos(), 5, "a failed read consumes nothing");
    }

    #[test]
    fn strings_check_length_before_reading() {
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"abc");
        assert!(matches!(
            Cursor::new(&huge).str(),
            Err(ReadErr::StrTooLong {
                offset: 0,
                len: u64::MAX,
                available: 3
            })
        ));
        let mut ok = 2u64.to_le_bytes().to_vec();
        ok.extend_from_slice(b"hi!");
        let mut c = Cursor::new(&ok);
        assert_eq!(c.str().unwrap(), "hi");
        assert_eq!(c.remaining(), 1);
        let mut bad = 1u64.to_le_bytes().to_vec();
        bad.push(0xff);
        assert!(matches!(
            Cursor::new(&bad).str(),
            Err(ReadErr::Utf8 { offset: 0 })
        ));
    }
}
