//! [`PreparedPoints`]: a point set handed to a backend once and evaluated
//! many times (local complexity of the same probe points at every training
//! checkpoint), so that a backend with its own memory keeps the points there
//! instead of receiving them again with every network.

use std::any::Any;
use std::ops::Range;

use ndarray::{s, Array2, ArrayView2};

use crate::{Error, Result};

/// A backend's own copy of a prepared point set (device buffers, a packed
/// layout), type-erased so that any backend can define one.
pub type ResidentData = Box<dyn Any + Send + Sync>;

/// A point set prepared by [`super::Backend::prepare_points`]: the points on
/// the host, always, and optionally the backend's resident copy of them.
///
/// # Semantics
///
/// The host array is kept so that every backend, including one that did not
/// prepare the set, can evaluate it ([`PreparedPoints::points`]); a backend
/// that finds its own [`PreparedPoints::resident`] data (by downcasting it to
/// its own type) reads the points from there instead. The crate's entry
/// point (`cpwl::lc::prepare_points`) checks the points once, when they are
/// prepared: every value is finite.
///
/// # Examples
///
/// A backend without resident memory keeps only the host array (the trait's
/// default); one with its own memory attaches its copy:
///
/// ```
/// use cpwl::backend::PreparedPoints;
/// use ndarray::array;
///
/// let plain = PreparedPoints::host(array![[0.0, 1.0], [2.0, 3.0]]);
/// assert_eq!((plain.len(), plain.dim()), (2, 2));
/// assert!(plain.resident().is_none());
///
/// let points = array![[0.5, -0.5]];
/// let packed: Vec<f64> = points.iter().copied().collect();
/// let kept = PreparedPoints::with_resident(points, Box::new(packed));
/// let mine = kept.resident().and_then(|r| r.downcast_ref::<Vec<f64>>());
/// assert_eq!(mine, Some(&vec![0.5, -0.5]));
/// ```
pub struct PreparedPoints {
    points: Array2<f64>,
    resident: Option<ResidentData>,
}

impl std::fmt::Debug for PreparedPoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPoints")
            .field("points", &self.points.dim())
            .field("resident", &self.resident.is_some())
            .finish()
    }
}

impl PreparedPoints {
    /// A prepared set with no resident copy: backends read the host array.
    pub fn host(points: Array2<f64>) -> Self {
        PreparedPoints {
            points: points.as_standard_layout().into_owned(),
            resident: None,
        }
    }

    /// A prepared set with the backend's own copy of the points attached.
    pub fn with_resident(points: Array2<f64>, resident: ResidentData) -> Self {
        PreparedPoints {
            resident: Some(resident),
            ..PreparedPoints::host(points)
        }
    }

    /// The points, one per row.
    pub fn points(&self) -> ArrayView2<'_, f64> {
        self.points.view()
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.points.nrows()
    }

    /// Whether the set holds no point.
    pub fn is_empty(&self) -> bool {
        self.points.nrows() == 0
    }

    /// The dimension of the points.
    pub fn dim(&self) -> usize {
        self.points.ncols()
    }

    /// The resident copy attached by the backend that prepared the set, if
    /// any (downcast it to the backend's own type).
    pub fn resident(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.resident.as_deref()
    }

    /// The points of `rows`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `rows` does not lie inside the set.
    pub fn rows(&self, rows: Range<usize>) -> Result<ArrayView2<'_, f64>> {
        check_range(rows.clone(), self.len())?;
        Ok(self.points.slice(s![rows, ..]))
    }
}

/// Checks that `rows` is a range inside a set of `len` points.
pub(crate) fn check_range(rows: Range<usize>, len: usize) -> Result<()> {
    if rows.start > rows.end || rows.end > len {
        return Err(Error::shape(
            "prepared point rows",
            format!("a range inside 0..{len}"),
            format!("{}..{}", rows.start, rows.end),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn rows_slice_the_host_points_and_reject_ranges_outside() {
        let p = PreparedPoints::host(array![[1.0], [2.0], [3.0]]);
        assert_eq!(p.rows(1..3).unwrap(), array![[2.0], [3.0]]);
        assert_eq!(p.rows(3..3).unwrap().nrows(), 0);
        assert!(matches!(p.rows(2..4), Err(Error::Shape { .. })));
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 2..1;
        assert!(matches!(p.rows(backwards), Err(Error::Shape { .. })));
    }

    #[test]
    fn strided_input_is_stored_row_major() {
        let t = array![[1.0, 2.0], [3.0, 4.0]].reversed_axes();
        let p = PreparedPoints::host(t);
        assert_eq!(p.points().as_slice(), Some(&[1.0, 3.0, 2.0, 4.0][..]));
        assert!(!p.is_empty());
    }
}
