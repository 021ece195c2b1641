//! Tensor data stored outside the model file (ONNX "external data").
//!
//! PyTorch's default exporter (`torch.onnx.export(..., dynamo=True)`) writes
//! large weights to a file next to the model, `<model>.onnx.data`, and leaves
//! in each `TensorProto` a `location` (a path relative to the model's folder),
//! an `offset` and a `length`. This module reads those bytes through a
//! resolver and stores them as the tensor's `raw_data`, so that the rest of the
//! importer only ever sees inline tensors.

use std::collections::HashMap;
use std::path::{Component, Path};

use super::proto::{GraphProto, TensorProto};
use super::FileContext;
use crate::Result;

/// `TensorProto::data_location` of a tensor whose data is in an external file.
const EXTERNAL: i32 = 1;

/// Reads the bytes of an external data file, given its `location` as written
/// in the model (already checked to be a relative path without `..`).
pub(crate) type Resolver<'r> = dyn FnMut(&str) -> std::io::Result<Vec<u8>> + 'r;

/// Replaces the external data of every initializer and `Constant` tensor of
/// `graph` by the bytes it points to; each file is read once.
///
/// # Errors
///
/// [`crate::Error::File`] for a location that is absolute or leaves the
/// model's folder, a file the resolver cannot read, or an offset and length
/// outside the file.
pub(crate) fn inline_external_data(
    graph: &mut GraphProto,
    resolve: &mut Resolver,
    ctx: &FileContext,
) -> Result<()> {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let constants = (graph.node.iter_mut())
        .flat_map(|node| node.attribute.iter_mut())
        .filter_map(|attr| attr.t.as_mut());
    for tensor in graph.initializer.iter_mut().chain(constants) {
        if is_external(tensor) {
            inline_one(tensor, &mut files, resolve, ctx)?;
        }
    }
    Ok(())
}

/// Whether a tensor's data lives in an external file.
fn is_external(t: &TensorProto) -> bool {
    t.data_location == Some(EXTERNAL) || !t.external_data.is_empty()
}

/// Where one tensor's bytes are: the file, the offset and the length (`None`: to the end).
struct Location {
    file: String,
    offset: usize,
    length: Option<usize>,
}

/// Reads `location`, `offset` and `length` from a tensor's `external_data` entries.
fn location_of(t: &TensorProto, name: &str, ctx: &FileContext) -> Result<Location> {
    let entry = |key: &str| {
        (t.external_data.iter())
            .find(|e| e.key.as_deref() == Some(key))
            .and_then(|e| e.value.as_deref())
    };
    let number = |key: &str| -> Result<Option<usize>> {
        entry(key)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    ctx.error(format!(
                        "tensor {name}: external data {key} {v:?} is not a byte count"
                    ))
                })
            })
            .transpose()
    };
    let file = entry("location")
        .ok_or_else(|| ctx.error(format!("tensor {name}: external data without a location")))?;
    check_relative(file, name, ctx)?;
    Ok(Location {
        file: file.to_string(),
        offset: number("offset")?.unwrap_or(0),
        length: number("length")?,
    })
}

/// Rejects locations that could read outside the model's folder.
fn check_relative(file: &str, name: &str, ctx: &FileContext) -> Result<()> {
    let path = Path::new(file);
    let inside = !file.is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if inside {
        Ok(())
    } else {
        Err(ctx.error(format!(
            "tensor {name}: external data location {file:?} must be a relative path inside the model's folder"
        )))
    }
}

/// Reads one tensor's external bytes into its `raw_data`.
fn inline_one(
    t: &mut TensorProto,
    files: &mut HashMap<String, Vec<u8>>,
    resolve: &mut Resolver,
    ctx: &FileContext,
) -> Result<()> {
    let name = t.name.clone().unwrap_or_default();
    let at = location_of(t, &name, ctx)?;
    if !files.contains_key(&at.file) {
        let bytes = resolve(&at.file).map_err(|e| crate::Error::File {
            path: ctx.path.to_path_buf(),
            reason: format!("tensor {name}: cannot read external data file {:?}", at.file),
            source: Some(Box::new(e)),
        })?;
        files.insert(at.file.clone(), bytes);
    }
    let bytes = &files[&at.file];
    let end = match at.length {
        Some(length) => at.offset.checked_add(length),
        None => Some(bytes.len()),
    };
    let range = end
        .filter(|&end| at.offset <= end && end <= bytes.len())
        .ok_or_else(|| {
            ctx.error(format!(
                "tensor {name}: external data at offset {} length {:?} lies outside {:?} ({} bytes)",
                at.offset,
                at.length,
                at.file,
                bytes.len()
            ))
        })?;
    t.raw_data = Some(bytes[at.offset..range].to_vec());
    t.external_data.clear();
    t.data_location = None;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::proto::StringStringEntryProto;
    use super::*;
    use crate::Error;

    fn ctx() -> FileContext<'static> {
        FileContext {
            path: Path::new("model.onnx"),
        }
    }

    fn external(entries: &[(&str, &str)]) -> TensorProto {
        TensorProto {
            name: Some("w".into()),
            data_location: Some(EXTERNAL),
            external_data: (entries.iter())
                .map(|(k, v)| StringStringEntryProto {
                    key: Some((*k).into()),
                    value: Some((*v).into()),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn graph(tensors: Vec<TensorProto>) -> GraphProto {
        GraphProto {
            initializer: tensors,
            ..Default::default()
        }
    }

    #[test]
    fn offsets_and_lengths_slice_one_file_read_once() {
        let mut g = graph(vec![
            external(&[("location", "w.data"), ("offset", "2"), ("length", "3")]),
            external(&[("location", "w.data"), ("offset", "5")]),
        ]);
        let mut reads = Vec::new();
        let mut resolve = |file: &str| {
            reads.push(file.to_string());
            Ok((0u8..8).collect())
        };
        inline_external_data(&mut g, &mut resolve, &ctx()).unwrap();
        assert_eq!(reads, vec!["w.data".to_string()]);
        assert_eq!(g.initializer[0].raw_data.as_deref(), Some(&[2u8, 3, 4][..]));
        assert_eq!(g.initializer[1].raw_data.as_deref(), Some(&[5u8, 6, 7][..]));
        assert!(!is_external(&g.initializer[0]) && !is_external(&g.initializer[1]));
    }

    #[test]
    fn locations_outside_the_folder_are_refused_before_reading() {
        for location in ["../secret", "/etc/passwd", "", "a/../../b"] {
            let mut g = graph(vec![external(&[("location", location)])]);
            let mut resolve = |_: &str| -> std::io::Result<Vec<u8>> { panic!("must not be read") };
            let err = inline_external_data(&mut g, &mut resolve, &ctx()).unwrap_err();
            assert!(err.to_string().contains("relative path"), "{location}: {err}");
        }
    }

    #[test]
    fn ranges_past_the_end_and_unreadable_files_are_file_errors() {
        let mut g = graph(vec![external(&[
            ("location", "w.data"),
            ("offset", "4"),
            ("length", "9"),
        ])]);
        let mut resolve = |_: &str| Ok(vec![0u8; 8]);
        let err = inline_external_data(&mut g, &mut resolve, &ctx()).unwrap_err();
        assert!(
            matches!(&err, Error::File { reason, .. } if reason.contains("outside")),
            "{err}"
        );

        let mut g = graph(vec![external(&[("location", "w.data"), ("offset", "x")])]);
        let err = inline_external_data(&mut g, &mut resolve, &ctx()).unwrap_err();
        assert!(err.to_string().contains("byte count"), "{err}");

        let mut g = graph(vec![external(&[("location", "gone.data")])]);
        let mut missing = |_: &str| Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let err = inline_external_data(&mut g, &mut missing, &ctx()).unwrap_err();
        assert!(matches!(&err, Error::File { source: Some(_), .. }), "{err}");
    }
}
