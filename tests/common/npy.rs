//! Writes version 1.0 `.npy` files: the inputs of the reader's tests and the
//! arrays the peer example hands back to Python. Shared by the integration
//! tests (`tests/common`), the crate's unit tests (`src/test_support.rs`) and
//! the examples (`examples/common`), which include this file by path, so the
//! format is spelled once.

/// The bytes of a `.npy` file holding `data`, the raw little- or big-endian
/// values that the dtype descriptor `descr` (`<f8`, `<U4`, ...) names, of
/// shape `shape` (`[]` for a scalar) in C or, with `fortran_order`, Fortran
/// order. Nothing is checked: the tests hand the reader malformed files too.
pub fn npy_bytes(descr: &str, fortran_order: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let fortran_order = if fortran_order { "True" } else { "False" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': {fortran_order}, 'shape': {shape}, }}");
    // The format pads the header with spaces and a newline so that the data
    // starts on a multiple of 64 bytes: 10 bytes of preamble, then the header.
    while (header.len() + 11) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.bytes());
    out.extend(data);
    out
}
