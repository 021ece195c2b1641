//! Point-wise jobs (LC, exact LC, LES) split by point ranges.

use std::ops::Range;

use ndarray::{concatenate, Array, ArrayView, Axis, Dimension, RemoveAxis};

use crate::{Error, Result};

/// `parts` consecutive ranges covering `0..n`, their lengths differing by at
/// most one (the first ones longer): row blocks of a point-wise job.
///
/// # Errors
///
/// [`Error::Invalid`] when `parts` is zero.
///
/// # Examples
///
/// ```
/// let ranges = cpwl::shard::point_ranges(10, 3)?;
/// assert_eq!(ranges, vec![0..4, 4..7, 7..10]);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn point_ranges(n: usize, parts: usize) -> Result<Vec<Range<usize>>> {
    if parts == 0 {
        return Err(Error::invalid("parts", "must be at least 1"));
    }
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    Ok((0..parts)
        .map(|i| {
            let end = start + base + usize::from(i < extra);
            let r = start..end;
            start = end;
            r
        })
        .collect())
}

/// The per-point results of consecutive point ranges, joined in order along
/// the first axis (points): the result of the whole job.
///
/// # Errors
///
/// [`Error::Invalid`] when there are no parts; [`Error::Shape`] naming the
/// first part whose other axes differ from the first part's.
///
/// # Examples
///
/// ```
/// use ndarray::array;
/// let joined = cpwl::shard::concat_points(&[array![1.0, 2.0].view(), array![3.0].view()])?;
/// assert_eq!(joined, array![1.0, 2.0, 3.0]);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn concat_points<T: Clone, D: Dimension + RemoveAxis>(
    parts: &[ArrayView<'_, T, D>],
) -> Result<Array<T, D>> {
    let first = parts
        .first()
        .ok_or_else(|| Error::invalid("parts", "none given"))?;
    let tail = |s: &[usize]| s.get(1..).unwrap_or_default().to_vec();
    if let Some((i, p)) = parts
        .iter()
        .enumerate()
        .find(|(_, p)| tail(p.shape()) != tail(first.shape()))
    {
        return Err(Error::shape(
            format!("part {i}"),
            format!("{:?} after the points axis", tail(first.shape())),
            format!("{:?}", tail(p.shape())),
        ));
    }
    concatenate(Axis(0), parts).map_err(|e| Error::invalid("parts", e.to_string()))
}
