//! NumPy `.npy` arrays and `.npz` archives (zip files of `.npy` members).
//!
//! The reader accepts format versions 1.0, 2.0 and 3.0, C or Fortran order, and
//! the dtypes a network file plausibly holds: floats (`f4`, `f8`, widened to
//! `f64`), integers (`i1`..`i8`, `u1`..`u8`), booleans (`b1`), unicode strings
//! (`U<n>`) and byte strings (`S<n>`), in either byte order. Values come back
//! in C (row-major) order whatever the file's order. Malformed, truncated or
//! hostile input gives an [`NpyError`]; nothing here panics or allocates more
//! than the input justifies.
// The `.npz` network loader on the main branch is this module's first user.
#![cfg_attr(not(test), allow(dead_code))]

use std::io::{Cursor, Read};
use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result};

/// The magic string that opens every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

/// Longest header the reader accepts (NumPy writes a few hundred bytes).
const MAX_HEADER_LEN: usize = 1 << 20;

/// Deepest nesting of brackets the header parser follows.
const MAX_LITERAL_DEPTH: usize = 8;

/// Largest uncompressed `.npz` member the reader inflates.
const MAX_NPZ_MEMBER_BYTES: u64 = 1 << 34;

/// Why an `.npy` or `.npz` payload could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum NpyError {
    /// The payload does not start with the `.npy` magic string.
    #[error("not an .npy array (bad magic string)")]
    BadMagic,
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error("unsupported .npy format version {major}.{minor}")]
    UnsupportedVersion {
        /// Major version byte.
        major: u8,
        /// Minor version byte.
        minor: u8,
    },
    /// The payload ends inside its preamble or header.
    #[error("truncated .npy data: {what}")]
    Truncated {
        /// The part that is cut off.
        what: &'static str,
    },
    /// The header dictionary is not what NumPy writes.
    #[error("malformed .npy header at character {at}: {reason}")]
    BadHeader {
        /// Character offset inside the header text.
        at: usize,
        /// What is wrong there.
        reason: String,
    },
    /// A dtype outside the supported set (structured, complex, half, objects...).
    #[error("unsupported dtype {descr:?}")]
    UnsupportedDtype {
        /// The header's `descr` entry.
        descr: String,
    },
    /// The data block is not as long as the header's shape and dtype imply.
    #[error("data size mismatch: the header implies {expected} bytes, found {got}")]
    SizeMismatch {
        /// Bytes implied by the header.
        expected: usize,
        /// Bytes present.
        got: usize,
    },
    /// Sizes that overflow, or a member beyond the reader's limit.
    #[error("array too large: {reason}")]
    TooLarge {
        /// Which size.
        reason: String,
    },
    /// A value that cannot be represented (invalid text, integer out of range).
    #[error("bad value at index {index}: {reason}")]
    BadValue {
        /// Flat index in file order.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The array holds numbers where text is needed, or the other way round.
    #[error("expected {expected} data, found {found}")]
    WrongKind {
        /// What the caller asked for.
        expected: &'static str,
        /// What the array holds.
        found: &'static str,
    },
    /// The `.npz` container itself is broken.
    #[error("bad .npz archive: {reason}")]
    Archive {
        /// What is wrong.
        reason: String,
    },
    /// One member of an `.npz` archive is broken.
    #[error("member {name:?}: {source}")]
    Member {
        /// The member's name without `.npy`.
        name: String,
        /// What is wrong with it.
        #[source]
        source: Box<NpyError>,
    },
}

impl NpyError {
    /// The crate error for this failure in the file at `path`.
    pub(crate) fn at_path(self, path: &Path) -> Error {
        Error::File {
            path: path.to_path_buf(),
            reason: self.to_string(),
            source: Some(Box::new(self)),
        }
    }
}

/// An array read from an `.npy` payload: its shape and its values in C order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NpyArray {
    /// The shape; empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: NpyData,
}

/// The values of an [`NpyArray`], by kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NpyData {
    /// Floating-point values (`f4` widened).
    F64(Vec<f64>),
    /// Integer and boolean values.
    I64(Vec<i64>),
    /// Text (`U` and `S` arrays, trailing NULs removed).
    Str(Vec<String>),
}

impl NpyData {
    fn kind_name(&self) -> &'static str {
        match self {
            NpyData::F64(_) => "float",
            NpyData::I64(_) => "integer",
            NpyData::Str(_) => "text",
        }
    }
}

impl NpyArray {
    /// The numbers as an `f64` array of the stored shape (integers are converted).
    pub(crate) fn into_f64(self) -> Result<ArrayD<f64>, NpyError> {
        let values = match self.data {
            NpyData::F64(v) => v,
            NpyData::I64(v) => v.into_iter().map(|x| x as f64).collect(),
            other @ NpyData::Str(_) => {
                return Err(NpyError::WrongKind {
                    expected: "numeric",
                    found: other.kind_name(),
                })
            }
        };
        ArrayD::from_shape_vec(IxDyn(&self.shape), values).map_err(|e| NpyError::TooLarge {
            reason: e.to_string(),
        })
    }

    /// The strings of a text array, row-major.
    pub(crate) fn into_strings(self) -> Result<Vec<String>, NpyError> {
        match self.data {
            NpyData::Str(v) => Ok(v),
            other => Err(NpyError::WrongKind {
                expected: "text",
                found: other.kind_name(),
            }),
        }
    }
}

/// Parses a complete `.npy` payload.
pub(crate) fn read_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    let (header, data) = split_header(bytes)?;
    let header = parse_header(&header)?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(s));
    let count = count.ok_or_else(|| NpyError::TooLarge {
        reason: format!("shape {:?}", header.shape),
    })?;
    let expected =
        count
            .checked_mul(header.dtype.item_bytes)
            .ok_or_else(|| NpyError::TooLarge {
                reason: format!("{count} items of {} bytes", header.dtype.item_bytes),
            })?;
    if data.len() != expected {
        return Err(NpyError::SizeMismatch {
            expected,
            got: data.len(),
        });
    }
    let values = header.dtype.decode(data)?;
    let values = if header.fortran_order {
        values.into_c_order(&header.shape)?
    } else {
        values
    };
    Ok(NpyArray {
        shape: header.shape,
        data: values,
    })
}

/// Reads every member of an `.npz` payload, in archive order, named without `.npy`.
pub(crate) fn read_npz(bytes: &[u8]) -> Result<Vec<(String, NpyArray)>, NpyError> {
    let archive_error = |e: zip::result::ZipError| NpyError::Archive {
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(archive_error)?;
    let mut members: Vec<(String, NpyArray)> = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).map_err(archive_error)?;
        if file.is_dir() {
            continue;
        }
        let name = member_name(file.name())?;
        if members.iter().any(|(seen, _)| *seen == name) {
            return Err(NpyError::Archive {
                reason: format!("member {name:?} appears twice"),
            });
        }
        let payload = read_member(&mut file, &name)?;
        let array = read_npy(&payload).map_err(|source| NpyError::Member {
            name: name.clone(),
            source: Box::new(source),
        })?;
        members.push((name, array));
    }
    Ok(members)
}

/// Reads an `.npy` file from disk.
pub(crate) fn read_npy_file(path: &Path) -> Result<NpyArray> {
    read_npy(&read_file(path)?).map_err(|e| e.at_path(path))
}

/// Reads every member of an `.npz` file from disk.
pub(crate) fn read_npz_file(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    read_npz(&read_file(path)?).map_err(|e| e.at_path(path))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })
}

fn member_name(raw: &str) -> Result<String, NpyError> {
    raw.strip_suffix(".npy")
        .map(str::to_string)
        .ok_or_else(|| NpyError::Archive {
            reason: format!("member {raw:?} is not an .npy file"),
        })
}

fn read_member(file: &mut impl Read, name: &str) -> Result<Vec<u8>, NpyError> {
    let mut payload = Vec::new();
    // One byte past the limit tells an oversized member from one exactly at it.
    file.take(MAX_NPZ_MEMBER_BYTES + 1)
        .read_to_end(&mut payload)
        .map_err(|e| NpyError::Member {
            name: name.to_string(),
            source: Box::new(NpyError::Archive {
                reason: e.to_string(),
            }),
        })?;
    if payload.len() as u64 > MAX_NPZ_MEMBER_BYTES {
        return Err(NpyError::TooLarge {
            reason: format!("member {name:?} inflates beyond {MAX_NPZ_MEMBER_BYTES} bytes"),
        });
    }
    Ok(payload)
}

/// Splits a payload into its header text and its data block.
fn split_header(bytes: &[u8]) -> Result<(String, &[u8]), NpyError> {
    if bytes.len() < MAGIC.len() + 2 {
        return Err(if bytes.starts_with(MAGIC) || MAGIC.starts_with(bytes) {
            NpyError::Truncated { what: "preamble" }
        } else {
            NpyError::BadMagic
        });
    }
    if !bytes.starts_with(MAGIC) {
        return Err(NpyError::BadMagic);
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, utf8) = match major {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        _ => return Err(NpyError::UnsupportedVersion { major, minor }),
    };
    let start = 8 + len_bytes;
    let len_field = bytes.get(8..start).ok_or(NpyError::Truncated {
        what: "header length",
    })?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |n, &b| (n << 8) | usize::from(b));
    if header_len > MAX_HEADER_LEN {
        return Err(NpyError::TooLarge {
            reason: format!("header of {header_len} bytes"),
        });
    }
    let header = bytes
        .get(start..start + header_len)
        .ok_or(NpyError::Truncated { what: "header" })?;
    let text = if utf8 {
        std::str::from_utf8(header)
            .map_err(|e| NpyError::BadHeader {
                at: e.valid_up_to(),
                reason: "invalid UTF-8".to_string(),
            })?
            .to_string()
    } else {
        header.iter().map(|&b| char::from(b)).collect()
    };
    Ok((text, &bytes[start + header_len..]))
}

/// What the header dictionary says.
struct Header {
    dtype: Dtype,
    fortran_order: bool,
    shape: Vec<usize>,
}

fn parse_header(text: &str) -> Result<Header, NpyError> {
    let mut parser = LiteralParser::new(text);
    let dict = parser.parse_dict()?;
    let find = |key: &str| {
        dict.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| NpyError::BadHeader {
                at: 0,
                reason: format!("missing key {key:?}"),
            })
    };
    let dtype = match find("descr")? {
        Literal::Str(descr) => Dtype::parse(descr)?,
        _ => {
            return Err(NpyError::UnsupportedDtype {
                descr: "structured dtype".to_string(),
            })
        }
    };
    let fortran_order = match find("fortran_order")? {
        Literal::Bool(b) => *b,
        _ => return Err(header_error("fortran_order is not a boolean")),
    };
    let shape = match find("shape")? {
        Literal::Seq(items) => items
            .iter()
            .map(|item| match item {
                Literal::Int(n) => usize::try_from(*n).map_err(|_| NpyError::TooLarge {
                    reason: format!("dimension {n}"),
                }),
                _ => Err(header_error("shape holds a non-integer")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(header_error("shape is not a tuple")),
    };
    Ok(Header {
        dtype,
        fortran_order,
        shape,
    })
}

fn header_error(reason: &str) -> NpyError {
    NpyError::BadHeader {
        at: 0,
        reason: reason.to_string(),
    }
}

/// A Python literal as it appears in an `.npy` header.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Bool(bool),
    Int(u64),
    None,
    Seq(Vec<Literal>),
    Dict(Vec<(String, Literal)>),
}

/// A recursive-descent parser for the subset of Python literals NumPy writes.
struct LiteralParser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl LiteralParser {
    fn new(text: &str) -> Self {
        LiteralParser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
        }
    }

    fn error(&self, reason: impl Into<String>) -> NpyError {
        NpyError::BadHeader {
            at: self.pos,
            reason: reason.into(),
        }
    }

    fn skip_space(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.pos).copied()
    }

    fn expect(&mut self, want: char) -> Result<(), NpyError> {
        match self.peek() {
            Some(c) if c == want => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(self.error(format!("expected {want:?}, found {c:?}"))),
            None => Err(self.error(format!("expected {want:?}, found the end"))),
        }
    }

    /// The whole header: one dictionary, then only padding.
    fn parse_dict(&mut self) -> Result<Vec<(String, Literal)>, NpyError> {
        let Literal::Dict(entries) = self.parse_value()? else {
            return Err(self.error("the header is not a dictionary"));
        };
        if self.peek().is_some() {
            return Err(self.error("text after the dictionary"));
        }
        Ok(entries)
    }

    fn parse_value(&mut self) -> Result<Literal, NpyError> {
        match self.peek() {
            Some('{') => self.nested(|p| p.parse_entries()),
            Some('(') => self.nested(|p| p.parse_items(')')),
            Some('[') => self.nested(|p| p.parse_items(']')),
            Some('\'' | '"') => self.parse_string().map(Literal::Str),
            Some(c) if c.is_ascii_digit() => self.parse_int(),
            Some(c) if c.is_alphabetic() => self.parse_word(),
            Some(c) => Err(self.error(format!("unexpected {c:?}"))),
            None => Err(self.error("unexpected end")),
        }
    }

    fn nested(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<Literal, NpyError>,
    ) -> Result<Literal, NpyError> {
        if self.depth >= MAX_LITERAL_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.depth += 1;
        self.pos += 1;
        let value = inner(self);
        self.depth -= 1;
        value
    }

    fn parse_entries(&mut self) -> Result<Literal, NpyError> {
        let mut entries = Vec::new();
        loop {
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Literal::Dict(entries));
            }
            let key = self.parse_string()?;
            self.expect(':')?;
            let value = self.parse_value()?;
            entries.push((key, value));
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn parse_items(&mut self, close: char) -> Result<Literal, NpyError> {
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(Literal::Seq(items));
            }
            items.push(self.parse_value()?);
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => return Err(self.error(format!("expected ',' or {close:?}"))),
            }
        }
    }

    fn parse_string(&mut self) -> Result<String, NpyError> {
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.error("expected a quoted string")),
        };
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = *self
                .chars
                .get(self.pos)
                .ok_or_else(|| self.error("unterminated string"))?;
            self.pos += 1;
            match c {
                '\\' => {
                    let escaped = *self
                        .chars
                        .get(self.pos)
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.pos += 1;
                    out.push(escaped);
                }
                c if c == quote => return Ok(out),
                c => out.push(c),
            }
        }
    }

    fn parse_int(&mut self) -> Result<Literal, NpyError> {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        // Python 2 wrote long integers with an `L` suffix.
        if self.chars.get(self.pos) == Some(&'L') {
            self.pos += 1;
        }
        digits
            .parse::<u64>()
            .map(Literal::Int)
            .map_err(|_| NpyError::TooLarge {
                reason: format!("integer {digits}"),
            })
    }

    fn parse_word(&mut self) -> Result<Literal, NpyError> {
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_alphanumeric())
        {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Ok(Literal::Bool(true)),
            "False" => Ok(Literal::Bool(false)),
            "None" => Ok(Literal::None),
            _ => Err(NpyError::BadHeader {
                at: start,
                reason: format!("unknown word {word:?}"),
            }),
        }
    }
}

/// How one item is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dtype {
    big_endian: bool,
    kind: Kind,
    item_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Float,
    Int,
    UInt,
    Bool,
    Unicode,
    Bytes,
}

impl Dtype {
    fn parse(descr: &str) -> Result<Dtype, NpyError> {
        let unsupported = || NpyError::UnsupportedDtype {
            descr: descr.to_string(),
        };
        let mut chars = descr.chars();
        let big_endian = match chars.next() {
            Some('<' | '|') => false,
            Some('>') => true,
            Some('=') => cfg!(target_endian = "big"),
            _ => return Err(unsupported()),
        };
        let kind = match chars.next() {
            Some('f') => Kind::Float,
            Some('i') => Kind::Int,
            Some('u') => Kind::UInt,
            Some('b') => Kind::Bool,
            Some('U') => Kind::Unicode,
            Some('S') => Kind::Bytes,
            _ => return Err(unsupported()),
        };
        let size: usize = chars.as_str().parse().map_err(|_| unsupported())?;
        let item_bytes = match (kind, size) {
            (Kind::Float, 4 | 8) | (Kind::Int | Kind::UInt, 1 | 2 | 4 | 8) | (Kind::Bool, 1) => {
                size
            }
            (Kind::Unicode, n) => n.checked_mul(4).ok_or_else(unsupported)?,
            (Kind::Bytes, n) => n,
            _ => return Err(unsupported()),
        };
        Ok(Dtype {
            big_endian,
            kind,
            item_bytes,
        })
    }

    /// Decodes `data`, whose length is a multiple of the item size.
    fn decode(&self, data: &[u8]) -> Result<NpyData, NpyError> {
        if self.item_bytes == 0 {
            // `S0`/`U0` items: the count is in the shape, not in the data.
            return Ok(NpyData::Str(Vec::new()));
        }
        let items = data.chunks_exact(self.item_bytes);
        Ok(match self.kind {
            Kind::Float => NpyData::F64(items.map(|b| self.float(b)).collect()),
            Kind::Int | Kind::Bool => NpyData::I64(items.map(|b| self.int(b)).collect()),
            Kind::UInt => NpyData::I64(
                items
                    .enumerate()
                    .map(|(index, b)| {
                        i64::try_from(self.uint(b)).map_err(|_| NpyError::BadValue {
                            index,
                            reason: "unsigned value beyond i64".to_string(),
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Unicode => NpyData::Str(
                items
                    .enumerate()
                    .map(|(index, b)| self.unicode(b, index))
                    .collect::<Result<_, _>>()?,
            ),
            Kind::Bytes => NpyData::Str(
                items
                    .enumerate()
                    .map(|(index, b)| bytes_text(b, index))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }

    fn uint(&self, b: &[u8]) -> u64 {
        let fold = |n: u64, &byte: &u8| (n << 8) | u64::from(byte);
        if self.big_endian {
            b.iter().fold(0, fold)
        } else {
            b.iter().rev().fold(0, fold)
        }
    }

    fn int(&self, b: &[u8]) -> i64 {
        let bits = 8 * b.len() as u32;
        let raw = self.uint(b);
        // Sign-extend from the item's width.
        ((raw << (64 - bits)) as i64) >> (64 - bits)
    }

    fn float(&self, b: &[u8]) -> f64 {
        let raw = self.uint(b);
        if b.len() == 4 {
            f64::from(f32::from_bits(raw as u32))
        } else {
            f64::from_bits(raw)
        }
    }

    fn unicode(&self, b: &[u8], index: usize) -> Result<String, NpyError> {
        let mut text: String = b
            .chunks_exact(4)
            .map(|unit| {
                let code = self.uint(unit) as u32;
                char::from_u32(code).ok_or_else(|| NpyError::BadValue {
                    index,
                    reason: format!("invalid code point {code:#x}"),
                })
            })
            .collect::<Result<_, _>>()?;
        text.truncate(text.trim_end_matches('\0').len());
        Ok(text)
    }
}

fn bytes_text(b: &[u8], index: usize) -> Result<String, NpyError> {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    String::from_utf8(b[..end].to_vec()).map_err(|_| NpyError::BadValue {
        index,
        reason: "byte string is not UTF-8".to_string(),
    })
}

impl NpyData {
    /// Reorders Fortran-order values of `shape` into C order.
    fn into_c_order(self, shape: &[usize]) -> Result<NpyData, NpyError> {
        Ok(match self {
            NpyData::F64(v) => NpyData::F64(fortran_to_c(v, shape)?),
            NpyData::I64(v) => NpyData::I64(fortran_to_c(v, shape)?),
            NpyData::Str(v) => NpyData::Str(fortran_to_c(v, shape)?),
        })
    }
}

fn fortran_to_c<T: Clone>(values: Vec<T>, shape: &[usize]) -> Result<Vec<T>, NpyError> {
    if shape.len() < 2 {
        return Ok(values);
    }
    // Fortran order of `shape` is C order of the reversed shape.
    let reversed: Vec<usize> = shape.iter().rev().copied().collect();
    let array =
        ArrayD::from_shape_vec(IxDyn(&reversed), values).map_err(|e| NpyError::TooLarge {
            reason: e.to_string(),
        })?;
    Ok(array.reversed_axes().iter().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `.npy` v1 payload with the given header dictionary and data.
    fn payload(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.as_bytes().to_vec();
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(b' ');
        }
        header.push(b'\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out
    }

    fn f64_bytes(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn reads_c_order_f8() {
        let data = f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let p = payload(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            &data,
        );
        let a = read_npy(&p).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, NpyData::F64(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    }

    #[test]
    fn fortran_order_is_returned_row_major() {
        // Column-major storage of [[1, 2, 3], [4, 5, 6]].
        let data = f64_bytes(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let p = payload(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
            &data,
        );
        let a = read_npy(&p).unwrap().into_f64().unwrap();
        assert_eq!(a.shape(), &[2, 3]);
        assert_eq!(
            a.iter().copied().collect::<Vec<_>>(),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
    }

    #[test]
    fn fortran_order_three_axes() {
        // Element (i, j, k) of shape (2, 2, 2) stored at i + 2j + 4k; value 100i + 10j + k.
        let mut stored = vec![0.0; 8];
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..2 {
                    stored[i + 2 * j + 4 * k] = (100 * i + 10 * j + k) as f64;
                }
            }
        }
        let p = payload(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2, 2), }",
            &f64_bytes(&stored),
        );
        let a = read_npy(&p).unwrap().into_f64().unwrap();
        assert_eq!(a[[1, 0, 1]], 101.0);
        assert_eq!(a[[0, 1, 1]], 11.0);
        assert_eq!(a[[1, 1, 0]], 110.0);
    }

    #[test]
    fn reads_f4_big_endian_and_ints() {
        let data: Vec<u8> = [1.5f32, -2.25]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let p = payload(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}",
            &data,
        );
        assert_eq!(read_npy(&p).unwrap().data, NpyData::F64(vec![1.5, -2.25]));

        let data: Vec<u8> = [-3i32, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
        let p = payload(
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}",
            &data,
        );
        assert_eq!(read_npy(&p).unwrap().data, NpyData::I64(vec![-3, 7]));

        let p = payload(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (2,)}",
            &[255, 1],
        );
        assert_eq!(read_npy(&p).unwrap().data, NpyData::I64(vec![255, 1]));
    }

    #[test]
    fn reads_unicode_and_byte_scalars() {
        let mut data = Vec::new();
        for c in "relu".chars().chain(std::iter::repeat_n('\0', 6)) {
            data.extend_from_slice(&(c as u32).to_le_bytes());
        }
        let p = payload(
            "{'descr': '<U10', 'fortran_order': False, 'shape': (), }",
            &data,
        );
        let a = read_npy(&p).unwrap();
        assert!(a.shape.is_empty());
        assert_eq!(a.into_strings().unwrap(), vec!["relu".to_string()]);

        let p = payload(
            "{'descr': '|S6', 'fortran_order': False, 'shape': ()}",
            b"abs\0\0\0",
        );
        assert_eq!(read_npy(&p).unwrap().into_strings().unwrap(), vec!["abs"]);
    }

    #[test]
    fn malformed_inputs_are_typed_errors() {
        let good = payload(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
            &f64_bytes(&[1.0, 2.0]),
        );
        assert_eq!(read_npy(b"PK\x03\x04 not npy"), Err(NpyError::BadMagic));
        assert!(matches!(
            read_npy(&good[..5]),
            Err(NpyError::Truncated { .. })
        ));
        assert!(matches!(
            read_npy(&good[..20]),
            Err(NpyError::Truncated { .. })
        ));
        assert!(matches!(
            read_npy(&good[..good.len() - 1]),
            Err(NpyError::SizeMismatch {
                expected: 16,
                got: 15
            })
        ));
        let mut v9 = good.clone();
        v9[6] = 9;
        assert!(matches!(
            read_npy(&v9),
            Err(NpyError::UnsupportedVersion { major: 9, .. })
        ));

        let bad_headers = [
            "{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f8', 'shape': (1,)}",
            "{'descr': '<f8', 'fortran_order': 1, 'shape': (1,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1.5,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} trailing",
            "{'descr': '<f8' 'fortran_order': False}",
            "{'descr: '<f8'}",
            "((((((((((((((((((((1))))))))))))))))))))",
            "",
        ];
        for h in bad_headers {
            let err = read_npy(&payload(h, &f64_bytes(&[1.0]))).unwrap_err();
            assert!(
                !matches!(err, NpyError::SizeMismatch { .. }),
                "header {h:?} gave {err:?}"
            );
        }
    }

    #[test]
    fn overflowing_shapes_are_rejected() {
        let p = payload(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}",
            &[],
        );
        assert!(matches!(read_npy(&p), Err(NpyError::TooLarge { .. })));
    }

    #[test]
    fn text_is_not_numeric() {
        let p = payload(
            "{'descr': '|S1', 'fortran_order': False, 'shape': (1,)}",
            b"a",
        );
        assert!(matches!(
            read_npy(&p).unwrap().into_f64(),
            Err(NpyError::WrongKind { .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let good = payload(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 1), }",
            &f64_bytes(&[1.0, 2.0]),
        );
        // Every truncation and every single-byte corruption of a valid payload.
        for cut in 0..good.len() {
            let _ = read_npy(&good[..cut]);
        }
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= flip;
                let _ = read_npy(&bad);
            }
        }
    }

    #[test]
    fn npz_round_trip_and_errors() {
        use std::io::Write;
        let a = payload(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
            &f64_bytes(&[3.5]),
        );
        let mut buf = Cursor::new(Vec::new());
        {
            let mut zip = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file("W0.npy", opts).unwrap();
            zip.write_all(&a).unwrap();
            zip.start_file("b0.npy", opts).unwrap();
            zip.write_all(&a[..a.len() - 2]).unwrap();
            zip.finish().unwrap();
        }
        let bytes = buf.into_inner();
        match read_npz(&bytes) {
            Err(NpyError::Member { name, source }) => {
                assert_eq!(name, "b0");
                assert!(matches!(*source, NpyError::SizeMismatch { .. }));
            }
            other => panic!("expected a member error, got {other:?}"),
        }
        assert!(matches!(
            read_npz(b"not a zip"),
            Err(NpyError::Archive { .. })
        ));
        assert!(matches!(
            read_npz(&bytes[..bytes.len() / 2]),
            Err(NpyError::Archive { .. })
        ));
    }
}
