//! A reader for NumPy `.npy` arrays and `.npz` archives: exactly the parts of
//! the format the crate needs, with a typed error for every malformed input.

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use ndarray::{ArrayD, IxDyn, ShapeBuilder};

/// The data of one array.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NpyData {
    /// Floating-point or integer data, widened to f64.
    Float(ArrayD<f64>),
    /// Unicode or byte strings.
    Text(ArrayD<String>),
}

impl NpyData {
    /// The numeric data, or why there is none.
    pub(crate) fn into_f64(self) -> Result<ArrayD<f64>, NpyError> {
        match self {
            NpyData::Float(a) => Ok(a),
            NpyData::Text(_) => Err("array holds text, not numbers".into()),
        }
    }

    /// The text data in logical order, or why there is none.
    #[cfg(test)]
    pub(crate) fn into_strings(self) -> Result<Vec<String>, NpyError> {
        match self {
            NpyData::Text(a) => Ok(a.iter().cloned().collect()),
            NpyData::Float(_) => Err("array holds numbers, not text".into()),
        }
    }
}

/// Why an array could not be read (turned into [`crate::Error::File`] by callers).
pub(crate) type NpyError = String;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Parses one `.npy` file.
pub(crate) fn read_npy(bytes: &[u8]) -> Result<NpyData, NpyError> {
    let header = parse_preamble(bytes)?;
    let (descr, fortran, shape) = parse_header(header.text)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("shape overflows")?;
    let body = &bytes[header.data_start..];
    let dtype = Dtype::parse(&descr)?;
    let need = count.checked_mul(dtype.size()).ok_or("array size overflows")?;
    if body.len() < need {
        return Err(format!(
            "data truncated: {} bytes for {} elements of {descr} (need {need})",
            body.len(),
            count
        ));
    }
    let dim: ndarray::StrideShape<IxDyn> = if fortran {
        IxDyn(&shape).f().into()
    } else {
        IxDyn(&shape).into()
    };
    let body = &body[..need];
    let data = match dtype {
        Dtype::Float { size, little } => NpyData::Float(to_array(dim, decode_floats(body, size, little))?),
        Dtype::Int { size, little, signed } => {
            NpyData::Float(to_array(dim, decode_ints(body, size, little, signed))?)
        }
        Dtype::Bool => NpyData::Float(to_array(dim, body.iter().map(|&b| f64::from(b != 0)).collect())?),
        Dtype::Unicode { chars, little } => {
            NpyData::Text(to_array(dim, decode_unicode(body, chars, little)?)?)
        }
        Dtype::Bytes { len } => NpyData::Text(to_array(
            dim,
            body.chunks_exact(len.max(1))
                .take(count)
                .map(decode_bytes)
                .collect(),
        )?),
    };
    Ok(data)
}

fn to_array<T>(dim: ndarray::StrideShape<IxDyn>, data: Vec<T>) -> Result<ArrayD<T>, NpyError> {
    ArrayD::from_shape_vec(dim, data).map_err(|e| format!("shape does not match data: {e}"))
}

struct Preamble<'a> {
    text: &'a str,
    data_start: usize,
}

fn parse_preamble(bytes: &[u8]) -> Result<Preamble<'_>, NpyError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not an .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated header")?;
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text")?;
    Ok(Preamble {
        text,
        data_start: end,
    })
}

/// Extracts `descr`, `fortran_order` and `shape` from the header dictionary.
fn parse_header(text: &str) -> Result<(String, bool, Vec<usize>), NpyError> {
    let descr = dict_value(text, "descr")?;
    let descr = descr.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
    let fortran = match dict_value(text, "fortran_order")?.trim() {
        "True" => true,
        "False" => false,
        other => return Err(format!("bad fortran_order {other:?}")),
    };
    let shape_text = dict_value(text, "shape")?;
    let inner = shape_text
        .trim()
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or("shape is not a tuple")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("bad shape entry {s:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((descr, fortran, shape))
}

/// The text of `'key': value` up to the next top-level comma or closing brace.
fn dict_value<'a>(text: &'a str, key: &str) -> Result<&'a str, NpyError> {
    let pat_single = format!("'{key}'");
    let pat_double = format!("\"{key}\"");
    let at = text
        .find(&pat_single)
        .or_else(|| text.find(&pat_double))
        .ok_or(format!("header has no {key}"))?;
    let rest = &text[at + key.len() + 2..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')
        .ok_or(format!("no ':' after {key}"))?;
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(&rest[..i]),
            _ => {}
        }
    }
    Err(format!("unterminated value for {key}"))
}

#[derive(Clone, Copy, Debug)]
enum Dtype {
    Float { size: usize, little: bool },
    Int { size: usize, little: bool, signed: bool },
    Bool,
    Unicode { chars: usize, little: bool },
    Bytes { len: usize },
}

impl Dtype {
    fn parse(descr: &str) -> Result<Dtype, NpyError> {
        let mut chars = descr.chars();
        let order = chars.next().ok_or("empty dtype")?;
        let little = match order {
            '<' | '|' | '=' => true,
            '>' => false,
            _ => return Err(format!("unsupported dtype {descr:?}")),
        };
        let kind = chars.next().ok_or("empty dtype")?;
        let size: usize = chars
            .as_str()
            .parse()
            .map_err(|_| format!("unsupported dtype {descr:?}"))?;
        match (kind, size) {
            ('f', 4 | 8) => Ok(Dtype::Float { size, little }),
            ('i', 1 | 2 | 4 | 8) => Ok(Dtype::Int {
                size,
                little,
                signed: true,
            }),
            ('u', 1 | 2 | 4 | 8) => Ok(Dtype::Int {
                size,
                little,
                signed: false,
            }),
            ('b', 1) => Ok(Dtype::Bool),
            ('U', n) if n <= 1 << 20 => Ok(Dtype::Unicode { chars: n, little }),
            ('S', n) if n <= 1 << 20 => Ok(Dtype::Bytes { len: n }),
            _ => Err(format!("unsupported dtype {descr:?}")),
        }
    }

    fn size(&self) -> usize {
        match *self {
            Dtype::Float { size, .. } | Dtype::Int { size, .. } => size,
            Dtype::Bool => 1,
            Dtype::Unicode { chars, .. } => chars * 4,
            Dtype::Bytes { len } => len,
        }
    }
}

fn word<const N: usize>(chunk: &[u8], little: bool) -> [u8; N] {
    let mut w = [0u8; N];
    w.copy_from_slice(&chunk[..N]);
    if !little {
        w.reverse();
    }
    w
}

fn decode_floats(body: &[u8], size: usize, little: bool) -> Vec<f64> {
    match size {
        4 => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(word(c, little)) as f64)
            .collect(),
        _ => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(word(c, little)))
            .collect(),
    }
}

fn decode_ints(body: &[u8], size: usize, little: bool, signed: bool) -> Vec<f64> {
    body.chunks_exact(size)
        .map(|c| {
            let mut w = [0u8; 8];
            w[..size].copy_from_slice(c);
            if !little {
                w[..size].reverse();
            }
            let negative = signed && w[size - 1] & 0x80 != 0;
            if negative {
                w[size..].fill(0xff);
            }
            if signed {
                i64::from_le_bytes(w) as f64
            } else {
                u64::from_le_bytes(w) as f64
            }
        })
        .collect()
}

fn decode_unicode(body: &[u8], chars: usize, little: bool) -> Result<Vec<String>, NpyError> {
    if chars == 0 {
        return Ok(Vec::new());
    }
    body.chunks_exact(chars * 4)
        .map(|item| {
            item.chunks_exact(4)
                .map(|c| u32::from_le_bytes(word(c, little)))
                .take_while(|&cp| cp != 0)
                .map(|cp| char::from_u32(cp).ok_or_else(|| format!("invalid code point {cp:#x}")))
                .collect()
        })
        .collect()
}

fn decode_bytes(item: &[u8]) -> String {
    let end = item.iter().position(|&b| b == 0).unwrap_or(item.len());
    String::from_utf8_lossy(&item[..end]).into_owned()
}

/// The largest member the archive reader accepts (guards against zip bombs).
const MAX_MEMBER_BYTES: u64 = 1 << 32;

/// Reads every `.npy` member of an `.npz` archive, keyed by name without the
/// `.npy` suffix.
pub(crate) fn read_npz<R: Read + Seek>(reader: R) -> Result<BTreeMap<String, NpyData>, NpyError> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| format!("not a zip archive: {e}"))?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| format!("bad archive member {i}: {e}"))?;
        let name = member.name().to_string();
        let Some(key) = name.strip_suffix(".npy") else {
            continue;
        };
        if member.size() > MAX_MEMBER_BYTES {
            return Err(format!("member {name} is too large ({} bytes)", member.size()));
        }
        let mut bytes = Vec::with_capacity(member.size() as usize);
        (&mut member)
            .take(MAX_MEMBER_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read member {name}: {e}"))?;
        let array = read_npy(&bytes).map_err(|e| format!("member {name}: {e}"))?;
        out.insert(key.to_string(), array);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::npy_bytes;

    fn f64_bytes(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_c_and_fortran_order() {
        let data = f64_bytes(&[1., 2., 3., 4., 5., 6.]);
        let NpyData::Float(c) = read_npy(&npy_bytes("<f8", false, &[2, 3], &data)).unwrap() else {
            panic!()
        };
        assert_eq!(c[[0, 2]], 3.0);
        let NpyData::Float(f) = read_npy(&npy_bytes("<f8", true, &[2, 3], &data)).unwrap() else {
            panic!()
        };
        assert_eq!(f[[0, 2]], 5.0);
        assert_eq!(f[[1, 0]], 2.0);
    }

    #[test]
    fn reads_scalars_strings_and_narrow_types() {
        let text: Vec<u8> = "relu".chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        let NpyData::Text(s) = read_npy(&npy_bytes("<U4", false, &[], &text)).unwrap() else {
            panic!()
        };
        assert_eq!(s.ndim(), 0);
        assert_eq!(s.first().unwrap(), "relu");
        let f32s: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let NpyData::Float(a) = read_npy(&npy_bytes("<f4", false, &[2], &f32s)).unwrap() else {
            panic!()
        };
        assert_eq!(a.as_slice().unwrap(), &[1.5, -2.0]);
        let i16s: Vec<u8> = [-3i16, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        let NpyData::Float(a) = read_npy(&npy_bytes("<i2", false, &[2], &i16s)).unwrap() else {
            panic!()
        };
        assert_eq!(a.as_slice().unwrap(), &[-3.0, 7.0]);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let good = npy_bytes("<f8", false, &[2], &f64_bytes(&[1., 2.]));
        for cut in 0..good.len() {
            assert!(read_npy(&good[..cut]).is_err(), "prefix of {cut} bytes");
        }
        assert!(read_npy(&npy_bytes("<c16", false, &[1], &[0; 16])).is_err());
        assert!(read_npy(&npy_bytes("<f8", false, &[usize::MAX, 2], &[])).is_err());
        assert!(read_npy(b"\x93NUMPY\x01\x00\xff\xff{").is_err());
    }
}
