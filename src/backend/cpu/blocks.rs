//! Blocks of affine rows through a dense layer: the body of
//! [`crate::backend::Backend::dense_blocks`] that every backend inherits.
//!
//! The 2-D splitter carries each cell's affine functions as a block of rows
//! (`d/ds`, `d/dt`, then the value at the origin): a dense layer maps every
//! row by its weight, and only the offset row of a block takes the bias.

use ndarray::{Array2, ArrayView1, ArrayView2};

use crate::backend::check_affine;
use crate::network::eval::{self, Blocks};
use crate::{Error, Result};

/// Checks the arguments of [`crate::backend::Backend::dense_blocks`]: `w`,
/// `b` and `rows` as [`check_affine`] checks a map and its points, then
/// whole blocks of `block` rows with `offset_row < block`.
///
/// # Errors
///
/// [`Error::Shape`] naming the argument that disagrees.
pub(crate) fn check_blocks(
    w: ArrayView2<f64>,
    b: ArrayView1<f64>,
    rows: ArrayView2<f64>,
    (block, offset_row): (usize, usize),
) -> Result<()> {
    check_affine(w, b, rows)?;
    if offset_row >= block || rows.nrows() % block != 0 {
        return Err(Error::shape(
            "blocks of rows",
            format!("whole blocks of {block} rows with the offset row below {block}"),
            format!("{} rows, offset row {offset_row}", rows.nrows()),
        ));
    }
    Ok(())
}

/// The checked arguments through [`eval::dense_blocks`]: the product every
/// dense step of the crate's frozen evaluators runs, so the answer is bit
/// for bit theirs.
pub(crate) fn dense_blocks(
    w: ArrayView2<f64>,
    b: ArrayView1<f64>,
    rows: ArrayView2<f64>,
    (block, offset_row): (usize, usize),
) -> Result<Array2<f64>> {
    check_blocks(w, b, rows, (block, offset_row))?;
    Ok(eval::dense_blocks(w, b, rows, Blocks { block, offset_row }))
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn only_offset_rows_take_the_bias() {
        // Two blocks of (d/ds, d/dt, offset) through y = [x0 + 2 x1 + 10, -x1 + 20].
        let w = array![[1.0, 2.0], [0.0, -1.0]];
        let b = array![10.0, 20.0];
        let rows = array![
            [1.0, 0.0],
            [0.0, 1.0],
            [3.0, 4.0],
            [2.0, 0.0],
            [0.0, 0.5],
            [0.0, 0.0]
        ];
        let y = dense_blocks(w.view(), b.view(), rows.view(), (3, 2)).unwrap();
        let want = array![
            [1.0, 0.0],
            [2.0, -1.0],
            [21.0, 16.0],
            [2.0, 0.0],
            [1.0, -0.5],
            [10.0, 20.0]
        ];
        assert_eq!(y, want);
        let empty = Array2::<f64>::zeros((0, 2));
        assert_eq!(
            dense_blocks(w.view(), b.view(), empty.view(), (3, 2))
                .unwrap()
                .dim(),
            (0, 2)
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        let w = array![[1.0, 2.0]];
        let (b, long_b) = (array![0.5], array![0.5, 1.0]);
        let (rows, narrow, partial) = (
            Array2::zeros((3, 2)),
            Array2::zeros((3, 1)),
            Array2::zeros((4, 2)),
        );
        let cases = [
            (&long_b, &rows, (3, 2)),
            (&b, &narrow, (3, 2)),
            (&b, &partial, (3, 2)),
            (&b, &rows, (3, 3)),
        ];
        for (b, rows, blocks) in cases {
            let err = dense_blocks(w.view(), b.view(), rows.view(), blocks).unwrap_err();
            assert!(matches!(err, Error::Shape { .. }), "{err:?}");
        }
        assert!(dense_blocks(w.view(), b.view(), rows.view(), (3, 2)).is_ok());
    }
}
