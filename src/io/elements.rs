//! Floating-point element types of stored tensors, widened to `f64`.
//!
//! ONNX `raw_data` and safetensors buffers both store elements as fixed-width
//! little-endian bytes. Every type here widens to `f64` exactly: binary16,
//! bfloat16 and binary32 values are all representable in binary64, so loading
//! a half-precision checkpoint loses nothing beyond what the file already lost.

/// A floating-point element type that widens exactly to `f64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatKind {
    /// IEEE binary64.
    F64,
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16: the upper 16 bits of a binary32.
    Bf16,
}

impl FloatKind {
    /// Bytes per element.
    pub(crate) fn width(self) -> usize {
        match self {
            FloatKind::F64 => 8,
            FloatKind::F32 => 4,
            FloatKind::F16 | FloatKind::Bf16 => 2,
        }
    }

    /// Decodes little-endian elements; `None` when the length is not a multiple of the width.
    pub(crate) fn decode_le(self, bytes: &[u8]) -> Option<Vec<f64>> {
        if bytes.len() % self.width() != 0 {
            return None;
        }
        let chunks = bytes.chunks_exact(self.width());
        Some(match self {
            FloatKind::F64 => chunks
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of width 8")))
                .collect(),
            FloatKind::F32 => chunks
                .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("chunk of width 4"))))
                .collect(),
            FloatKind::F16 => chunks
                .map(|c| f16_bits_to_f64(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            FloatKind::Bf16 => chunks
                .map(|c| bf16_bits_to_f64(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        })
    }
}

/// The value of an IEEE binary16 bit pattern.
pub(crate) fn f16_bits_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        0x1f if mantissa == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        _ => (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15),
    };
    sign * magnitude
}

/// The value of a bfloat16 bit pattern.
pub(crate) fn bf16_bits_to_f64(bits: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(bits) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_known_values_widen_exactly() {
        assert_eq!(f16_bits_to_f64(0x3c00), 1.0);
        assert_eq!(f16_bits_to_f64(0xc000), -2.0);
        assert_eq!(f16_bits_to_f64(0x3555), 0.333_251_953_125);
        assert_eq!(f16_bits_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_bits_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_bits_to_f64(0x7c00), f64::INFINITY);
        assert!(f16_bits_to_f64(0x7e00).is_nan());
        assert_eq!(f16_bits_to_f64(0x8000), 0.0);
    }

    #[test]
    fn bf16_is_the_upper_half_of_f32() {
        assert_eq!(bf16_bits_to_f64(0x3f80), 1.0);
        assert_eq!(bf16_bits_to_f64(0xc040), -3.0);
        assert_eq!(bf16_bits_to_f64(0x3e80), 0.25);
    }

    #[test]
    fn decode_le_reads_each_width() {
        let f64_bytes: Vec<u8> = [1.5f64, -2.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(FloatKind::F64.decode_le(&f64_bytes), Some(vec![1.5, -2.25]));
        let f32_bytes: Vec<u8> = [0.1f32].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            FloatKind::F32.decode_le(&f32_bytes),
            Some(vec![f64::from(0.1f32)])
        );
        assert_eq!(FloatKind::F16.decode_le(&[0x00, 0x3c]), Some(vec![1.0]));
        assert_eq!(FloatKind::Bf16.decode_le(&[0x80, 0x3f]), Some(vec![1.0]));
    }

    #[test]
    fn decode_le_rejects_ragged_lengths() {
        assert_eq!(FloatKind::F64.decode_le(&[0; 7]), None);
        assert_eq!(FloatKind::F32.decode_le(&[0; 5]), None);
        assert_eq!(FloatKind::F16.decode_le(&[0; 3]), None);
    }
}
