//! The safetensors container, read by hand: an 8-byte little-endian header
//! length, a JSON header mapping each tensor's name to its `dtype`, `shape` and
//! `data_offsets` (plus an optional `__metadata__` map of strings), then the
//! tensors' bytes. Reading it here, with a JSON reader for exactly that header,
//! keeps the serde stack (serde, serde_derive, serde_json: about a tenth of a
//! downstream build, `docs/PERFORMANCE.md`) out of the default build.
//!
//! Checks, as the format requires: the header fits in the file and is UTF-8
//! JSON; names are unique; offsets lie in the data and tile it from 0 without
//! gaps or overlaps; each tensor's byte length equals its element count times
//! its dtype's size (for the dtypes whose size is known).

use std::collections::BTreeMap;

/// One tensor's entry in the header.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TensorEntry {
    /// The dtype's name as written (`F64`, `F32`, `F16`, `BF16`, `I64`, ...).
    pub(super) dtype: String,
    pub(super) shape: Vec<usize>,
    start: usize,
    end: usize,
}

/// A parsed safetensors file: the entries by name and the data they point into.
#[derive(Debug)]
pub(super) struct SafeTensorsFile<'a> {
    entries: BTreeMap<String, TensorEntry>,
    data: &'a [u8],
}

/// The largest header read (the reference implementation's limit).
const MAX_HEADER_BYTES: u64 = 100_000_000;

impl<'a> SafeTensorsFile<'a> {
    /// Parses the header of `bytes`; `Err` says what is wrong.
    pub(super) fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let (length, rest) = bytes
            .split_first_chunk::<8>()
            .ok_or("shorter than the 8-byte header length")?;
        let length = u64::from_le_bytes(*length);
        if length > MAX_HEADER_BYTES || length > rest.len() as u64 {
            return Err(format!("header length {length} exceeds the file"));
        }
        let (header, data) = rest.split_at(length as usize);
        let header = std::str::from_utf8(header).map_err(|e| format!("header is not UTF-8: {e}"))?;
        let mut reader = JsonReader {
            text: header.as_bytes(),
            at: 0,
        };
        let value = reader.document()?;
        let Json::Object(members) = value else {
            return Err("the header is not a JSON object".into());
        };
        let mut entries = BTreeMap::new();
        for (name, value) in members {
            if name == "__metadata__" {
                continue;
            }
            let entry = TensorEntry::from_json(&name, &value)?;
            if entries.insert(name.clone(), entry).is_some() {
                return Err(format!("tensor {name} is listed twice"));
            }
        }
        check_tiling(&entries, data.len())?;
        Ok(SafeTensorsFile { entries, data })
    }

    /// The tensors' names, sorted.
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The tensors' names and entries, sorted by name.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&str, &TensorEntry)> {
        self.entries.iter().map(|(n, e)| (n.as_str(), e))
    }

    /// The tensor `name`'s entry and bytes.
    pub(super) fn tensor(&self, name: &str) -> Option<(&TensorEntry, &'a [u8])> {
        let entry = self.entries.get(name)?;
        Some((entry, &self.data[entry.start..entry.end]))
    }
}

/// Bytes per element of the dtypes whose size is a whole number of bytes.
fn dtype_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" | "C64" => 8,
        _ => return None,
    })
}

impl TensorEntry {
    fn from_json(name: &str, value: &Json) -> Result<TensorEntry, String> {
        let bad = |what: &str| format!("tensor {name}: {what}");
        let Json::Object(fields) = value else {
            return Err(bad("the entry is not an object"));
        };
        let field = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .ok_or_else(|| bad(&format!("no {key}")))
        };
        let Json::String(dtype) = field("dtype")? else {
            return Err(bad("dtype is not a string"));
        };
        let shape = field("shape")?
            .integers()
            .ok_or_else(|| bad("shape is not a list of sizes"))?;
        let offsets = (field("data_offsets")?.integers())
            .filter(|o| o.len() == 2 && o[0] <= o[1])
            .ok_or_else(|| bad("data_offsets is not [start, end]"))?;
        if let Some(size) = dtype_size(dtype) {
            let bytes = (shape.iter())
                .try_fold(size, |n, &d| n.checked_mul(d))
                .ok_or_else(|| bad("too many elements"))?;
            if bytes != offsets[1] - offsets[0] {
                return Err(bad(&format!(
                    "{} bytes of data for shape {shape:?} of {dtype}",
                    offsets[1] - offsets[0]
                )));
            }
        }
        Ok(TensorEntry {
            dtype: dtype.clone(),
            shape,
            start: offsets[0],
            end: offsets[1],
        })
    }
}

/// The entries' byte ranges, sorted, must tile `0..len` exactly.
fn check_tiling(entries: &BTreeMap<String, TensorEntry>, len: usize) -> Result<(), String> {
    let mut ranges: Vec<(usize, usize, &str)> = (entries.iter())
        .map(|(n, e)| (e.start, e.end, n.as_str()))
        .collect();
    ranges.sort_unstable();
    let mut next = 0;
    for (start, end, name) in ranges {
        if start != next {
            return Err(format!(
                "tensor {name}: data_offsets leave a gap or overlap at byte {next}"
            ));
        }
        next = end;
    }
    if next != len {
        return Err(format!(
            "the tensors cover {next} bytes of data, the file holds {len}"
        ));
    }
    Ok(())
}

/// A JSON value, as far as safetensors headers need: numbers are kept as
/// non-negative integers when they are, otherwise only their presence.
#[derive(Debug, PartialEq)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    String(String),
    Integer(usize),
    /// Any other number, `true`, `false` or `null`.
    Other,
}

impl Json {
    /// The values of an array of non-negative integers.
    fn integers(&self) -> Option<Vec<usize>> {
        let Json::Array(items) = self else {
            return None;
        };
        (items.iter())
            .map(|v| match v {
                Json::Integer(n) => Some(*n),
                _ => None,
            })
            .collect()
    }
}

/// Nesting deeper than this is rejected (headers nest two levels).
const MAX_DEPTH: usize = 64;

/// A recursive-descent JSON reader (RFC 8259) over the header's bytes.
struct JsonReader<'t> {
    text: &'t [u8],
    at: usize,
}

impl JsonReader<'_> {
    /// One value and nothing after it but whitespace (the format pads
    /// headers with spaces).
    fn document(&mut self) -> Result<Json, String> {
        let value = self.value(0)?;
        self.skip_space();
        if self.at != self.text.len() {
            return Err(self.error("text after the header's JSON value"));
        }
        Ok(value)
    }

    fn error(&self, what: &str) -> String {
        format!("bad header JSON at byte {}: {what}", self.at)
    }

    fn skip_space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips whitespace, then consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.text.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", byte as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.skip_space();
        match self.text.get(self.at) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.literal(),
            None => Err(self.error("unexpected end")),
        }
    }

    /// A comma-separated sequence closed by `close`, each item read by `item`.
    fn sequence<T>(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        self.at += 1; // the opening bracket
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(item(self)?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(b',')?;
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.sequence(b'}', |r| {
            r.skip_space();
            if r.text.get(r.at) != Some(&b'"') {
                return Err(r.error("expected a member name"));
            }
            let key = r.string()?;
            r.expect(b':')?;
            Ok((key, r.value(depth + 1)?))
        })
        .map(Json::Object)
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.sequence(b']', |r| r.value(depth + 1)).map(Json::Array)
    }

    fn literal(&mut self) -> Result<Json, String> {
        for word in [&b"true"[..], b"false", b"null"] {
            if self.text[self.at..].starts_with(word) {
                self.at += word.len();
                return Ok(Json::Other);
            }
        }
        Err(self.error("expected a value"))
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.at;
        while matches!(
            self.text.get(self.at),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).expect("ASCII digits");
        if let Ok(n) = text.parse::<usize>() {
            return Ok(Json::Integer(n));
        }
        match text.parse::<f64>() {
            Ok(_) => Ok(Json::Other),
            Err(_) => Err(self.error(&format!("bad number {text}"))),
        }
    }

    /// A string at the current `"`, escapes decoded.
    fn string(&mut self) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let run = self.at;
            while !matches!(self.text.get(self.at), None | Some(b'"' | b'\\')) {
                if self.text[self.at] < 0x20 {
                    return Err(self.error("control character in a string"));
                }
                self.at += 1;
            }
            // The header is valid UTF-8 and the run stops at ASCII bytes.
            out.push_str(std::str::from_utf8(&self.text[run..self.at]).expect("UTF-8 run"));
            match self.text.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(_) => out.push(self.escape()?),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// The character of the escape at the current `\`.
    fn escape(&mut self) -> Result<char, String> {
        let code = self.text.get(self.at + 1).copied();
        self.at += 2;
        Ok(match code {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            _ => return Err(self.error("bad escape")),
        })
    }

    /// `\uXXXX`, with a surrogate pair as two escapes (after the `\u`).
    fn unicode_escape(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if !self.text[self.at..].starts_with(b"\\u") {
                return Err(self.error("unpaired surrogate"));
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error("unpaired surrogate"));
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let digits = std::str::from_utf8(digits).map_err(|_| self.error("bad \\u escape"))?;
        let value = u32::from_str_radix(digits, 16).map_err(|_| self.error("bad \\u escape"))?;
        self.at += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with this header text and `data` bytes.
    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_entries_metadata_escapes_and_padding() {
        let header = r#"{"__metadata__":{"format":"pt","note":"a \"q\" \u00e9\ud83d\ude00"},
            "b\u002fias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},
            "w":{"dtype":"F64","shape":[1,2],"data_offsets":[0,16]}}   "#;
        let data: Vec<u8> = (0..24).collect();
        let bytes = file(header, &data);
        let parsed = SafeTensorsFile::parse(&bytes).unwrap();
        assert_eq!(parsed.names().collect::<Vec<_>>(), ["b/ias", "w"]);
        let (entry, bytes) = parsed.tensor("b/ias").unwrap();
        assert_eq!((entry.dtype.as_str(), &entry.shape[..]), ("F32", &[2][..]));
        assert_eq!(bytes, &data[16..24]);
        assert_eq!(parsed.tensor("w").unwrap().1, &data[..16]);
        assert!(parsed.tensor("x").is_none());
    }

    #[test]
    fn malformed_files_are_errors_that_say_why() {
        let data = [0u8; 8];
        let entry =
            |offsets: &str| format!(r#"{{"w":{{"dtype":"F64","shape":[1],"data_offsets":{offsets}}}}}"#);
        for (bytes, why) in [
            (vec![1, 2, 3], "shorter"),
            (file(&entry("[0,8]"), &data)[..12].to_vec(), "exceeds"),
            (file(&entry("[0,4]"), &data[..4]), "bytes of data"),
            (file(&entry("[0,8]"), &[0u8; 12]), "cover 8 bytes"),
            (file(&entry("[8,16]"), &[0u8; 16]), "gap"),
            (file(&entry("[8,0]"), &data), "data_offsets"),
            (
                file(r#"{"w":{"dtype":"F64","shape":[1]}}"#, &data),
                "no data_offsets",
            ),
            (
                file(
                    r#"{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#,
                    &data,
                ),
                "twice",
            ),
            (
                file(
                    r#"{"w":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}}"#,
                    &data,
                ),
                "sizes",
            ),
            (file(r#"{"w":{"dtype":"F64""#, &data), "expected"),
            (file(r#"{"w":"\x"}"#, &data), "bad escape"),
            (file(r#"{"w":"\ud800"}"#, &data), "surrogate"),
            (file(r#"{"w":1} x"#, &data), "text after"),
            (file("[1,2]", &data), "not a JSON object"),
        ] {
            let err = SafeTensorsFile::parse(&bytes).unwrap_err();
            assert!(err.contains(why), "{err:?} should say {why:?}");
        }
    }

    #[test]
    fn literals_and_non_integer_numbers_are_values() {
        let mut reader = JsonReader {
            text: br#"[true, false, null, -1.5e3, 0, 4294967295]"#,
            at: 0,
        };
        let Json::Array(items) = reader.document().unwrap() else {
            panic!("an array");
        };
        assert_eq!(items[..4], [Json::Other, Json::Other, Json::Other, Json::Other]);
        assert_eq!(items[4], Json::Integer(0));
        assert_eq!(items[5], Json::Integer(4_294_967_295));
    }
}
