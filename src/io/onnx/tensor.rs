//! Decoding `TensorProto`s into `f64` arrays (weights) and `i64` lists (shapes).

use super::proto::{DataType, TensorProto};
use super::FileContext;
use crate::io::elements::FloatKind;
use crate::{Error, Result};

/// A decoded floating-point tensor: its shape and its elements in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tensor {
    /// The shape, outermost first.
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<f64>,
}

/// The shape of a tensor and its element count, checked for negative sizes and overflow.
fn checked_dims(t: &TensorProto, name: &str, ctx: &FileContext) -> Result<(Vec<usize>, usize)> {
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| ctx.error(format!("tensor {name} has a negative dimension")))?;
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| ctx.error(format!("tensor {name} has too many elements")))?;
    Ok((dims, count))
}

/// Rejects storage schemes the importer does not read (external files, segments).
fn check_inline(t: &TensorProto, name: &str) -> Result<()> {
    if t.data_location == Some(1) || !t.external_data.is_empty() {
        return Err(Error::Unsupported {
            layer: name.to_string(),
            op: "tensor data stored in an external file".into(),
        });
    }
    if t.segment.is_some() {
        return Err(Error::Unsupported {
            layer: name.to_string(),
            op: "tensor stored in segments".into(),
        });
    }
    Ok(())
}

/// Decodes a floating-point tensor (FLOAT, DOUBLE, FLOAT16 or BFLOAT16), widening to `f64`.
pub(crate) fn decode_float(t: &TensorProto, name: &str, ctx: &FileContext) -> Result<Tensor> {
    check_inline(t, name)?;
    let (dims, count) = checked_dims(t, name, ctx)?;
    let code = t.data_type.unwrap_or(0);
    let kind = match DataType::from_code(code) {
        Some(DataType::Double) => FloatKind::F64,
        Some(DataType::Float) => FloatKind::F32,
        Some(DataType::Float16) => FloatKind::F16,
        Some(DataType::BFloat16) => FloatKind::Bf16,
        _ => {
            return Err(Error::Unsupported {
                layer: name.to_string(),
                op: format!("tensor of ONNX data type {code} where floats are needed"),
            })
        }
    };
    let data = match &t.raw_data {
        Some(raw) => kind
            .decode_le(raw)
            .ok_or_else(|| ctx.error(format!("tensor {name}: raw data of ragged length")))?,
        None => typed_float_fields(t, kind),
    };
    if data.len() != count {
        return Err(ctx.error(format!(
            "tensor {name} holds {} elements, its shape {dims:?} needs {count}",
            data.len()
        )));
    }
    crate::error::check_finite(name, &data)?;
    Ok(Tensor { dims, data })
}

/// The elements of a float tensor stored in the typed (not raw) fields.
fn typed_float_fields(t: &TensorProto, kind: FloatKind) -> Vec<f64> {
    match kind {
        FloatKind::F64 => t.double_data.clone(),
        FloatKind::F32 => t.float_data.iter().map(|&v| f64::from(v)).collect(),
        // Half types are stored as bit patterns in `int32_data`; the low 16 bits hold them.
        FloatKind::F16 => (t.int32_data.iter())
            .map(|&v| crate::io::elements::f16_bits_to_f64(v as u16))
            .collect(),
        FloatKind::Bf16 => (t.int32_data.iter())
            .map(|&v| crate::io::elements::bf16_bits_to_f64(v as u16))
            .collect(),
    }
}

/// Decodes an integer tensor (INT64 or INT32), as used for `Reshape` targets.
pub(crate) fn decode_ints(t: &TensorProto, name: &str, ctx: &FileContext) -> Result<Vec<i64>> {
    check_inline(t, name)?;
    let (_, count) = checked_dims(t, name, ctx)?;
    let code = t.data_type.unwrap_or(0);
    let values: Vec<i64> = match (DataType::from_code(code), &t.raw_data) {
        (Some(DataType::Int64), Some(raw)) if raw.len() % 8 == 0 => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        (Some(DataType::Int32), Some(raw)) if raw.len() % 4 == 0 => raw
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        (Some(DataType::Int64), None) => t.int64_data.clone(),
        (Some(DataType::Int32), None) => t.int32_data.iter().map(|&v| i64::from(v)).collect(),
        (Some(DataType::Int64 | DataType::Int32), Some(_)) => {
            return Err(ctx.error(format!("tensor {name}: raw data of ragged length")))
        }
        _ => {
            return Err(Error::Unsupported {
                layer: name.to_string(),
                op: format!("tensor of ONNX data type {code} where integers are needed"),
            })
        }
    };
    if values.len() != count {
        return Err(ctx.error(format!(
            "tensor {name} holds {} elements, its shape needs {count}",
            values.len()
        )));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn ctx() -> FileContext<'static> {
        FileContext {
            path: Path::new("test.onnx"),
        }
    }

    fn tensor(dims: &[i64], data_type: i32) -> TensorProto {
        TensorProto {
            dims: dims.to_vec(),
            data_type: Some(data_type),
            ..Default::default()
        }
    }

    #[test]
    fn double_raw_data_decodes_row_major() {
        let mut t = tensor(&[2, 2], 11);
        t.raw_data = Some(
            [1.0f64, 2.0, 3.0, 4.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        );
        let got = decode_float(&t, "w", &ctx()).unwrap();
        assert_eq!(got.dims, vec![2, 2]);
        assert_eq!(got.data, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn float_data_widens() {
        let mut t = tensor(&[3], 1);
        t.float_data = vec![0.5, -1.25, 0.1];
        let got = decode_float(&t, "w", &ctx()).unwrap();
        assert_eq!(got.data, vec![0.5, -1.25, f64::from(0.1f32)]);
    }

    #[test]
    fn half_bits_in_int32_data_widen() {
        let mut t = tensor(&[2], 10);
        t.int32_data = vec![0x3c00, 0xc000];
        assert_eq!(decode_float(&t, "w", &ctx()).unwrap().data, vec![1.0, -2.0]);
    }

    #[test]
    fn element_count_must_match_shape() {
        let mut t = tensor(&[2, 3], 11);
        t.double_data = vec![1.0; 5];
        assert!(matches!(decode_float(&t, "w", &ctx()), Err(Error::File { .. })));
    }

    #[test]
    fn overflowing_shape_is_a_file_error() {
        let t = tensor(&[i64::MAX, i64::MAX, 4], 11);
        assert!(matches!(decode_float(&t, "w", &ctx()), Err(Error::File { .. })));
        let t = tensor(&[-1], 11);
        assert!(matches!(decode_float(&t, "w", &ctx()), Err(Error::File { .. })));
    }

    #[test]
    fn non_finite_weights_are_rejected() {
        let mut t = tensor(&[2], 11);
        t.double_data = vec![1.0, f64::NAN];
        assert!(matches!(
            decode_float(&t, "w", &ctx()),
            Err(Error::NonFinite { index: 1, .. })
        ));
    }

    #[test]
    fn integer_tensors_decode_from_raw_and_typed_fields() {
        let mut t = tensor(&[2], 7);
        t.raw_data = Some([-1i64, 54].iter().flat_map(|v| v.to_le_bytes()).collect());
        assert_eq!(decode_ints(&t, "s", &ctx()).unwrap(), vec![-1, 54]);
        let mut t = tensor(&[2], 6);
        t.int32_data = vec![0, -1];
        assert_eq!(decode_ints(&t, "s", &ctx()).unwrap(), vec![0, -1]);
    }

    #[test]
    fn external_data_is_unsupported() {
        let mut t = tensor(&[1], 11);
        t.data_location = Some(1);
        assert!(matches!(
            decode_float(&t, "w", &ctx()),
            Err(Error::Unsupported { .. })
        ));
    }
}
