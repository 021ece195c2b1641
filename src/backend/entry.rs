//! The checked backend calls that entry points make: the arguments checked
//! before a [`Backend`] sees them, its answer checked before it is used.

use ndarray::{Array2, ArrayView1, ArrayView2};

use super::cpu::blocks::check_blocks;
use super::{check_affine, check_rows, Backend, Keep};
use crate::error::{Error, Result};
use crate::network::{Network, Pattern};

/// The activation patterns of checked points (finite, of the network's
/// width) from one [`Backend::forward`] call: the route of every batch of
/// points whose patterns an algorithm needs (the walk's seeds and witness
/// points, [`Network::pattern_batch_with`]). The backend's answer is
/// checked before it is used.
///
/// # Errors
///
/// Backend failures; [`Error::Invalid`] when it returns no patterns or
/// patterns that do not fit the network; [`Error::Shape`] for patterns of
/// the wrong shape.
pub(crate) fn patterns_on(net: &Network, backend: &dyn Backend, x: ArrayView2<f64>) -> Result<Vec<Pattern>> {
    let choices = backend
        .forward(net, x, Keep::Patterns)?
        .patterns
        .ok_or_else(|| Error::invalid("backend", "returned no patterns"))?;
    check_rows("backend patterns", choices.dim(), (x.nrows(), net.unit_count()))?;
    net.check_pattern_rows(choices.view())?;
    Ok(choices
        .outer_iter()
        .map(|row| Pattern::from_checked(row.as_slice().unwrap_or(&row.to_vec())))
        .collect())
}

/// [`Backend::affine_values`] as an entry point runs it: the shapes checked
/// and the points found finite (an error names the row) before the call,
/// the backend's answer checked for its shape after it.
///
/// # Errors
///
/// [`Error::Shape`] for arguments or an answer of the wrong shape;
/// [`Error::NonFinite`] naming the first row with a NaN or infinity;
/// backend failures.
pub(crate) fn affine_values_on(
    backend: &dyn Backend,
    a: ArrayView2<f64>,
    c: ArrayView1<f64>,
    points: ArrayView2<f64>,
) -> Result<Array2<f64>> {
    check_affine(a, c, points)?;
    crate::error::check_finite_rows("affine map input", points)?;
    let values = backend.affine_values(a, c, points)?;
    check_rows("backend affine values", values.dim(), (points.nrows(), a.nrows()))?;
    Ok(values)
}

/// [`Backend::dense_blocks`] as an algorithm runs it: the arguments checked
/// before the call, the backend's answer (a backend may be written outside
/// the crate) checked for its shape, `rows.nrows() x w.nrows()`, before it
/// is sliced.
///
/// # Errors
///
/// [`Error::Shape`] for arguments or an answer of the wrong shape; backend
/// failures.
pub(crate) fn dense_blocks_on(
    backend: &dyn Backend,
    (w, b): (ArrayView2<f64>, ArrayView1<f64>),
    rows: ArrayView2<f64>,
    blocks: (usize, usize),
) -> Result<Array2<f64>> {
    check_blocks(w, b, rows, blocks)?;
    let values = backend.dense_blocks(w, b, rows, blocks)?;
    check_rows("backend dense blocks", values.dim(), (rows.nrows(), w.nrows()))?;
    Ok(values)
}
