//! The crate's error type.

use std::path::PathBuf;

/// A boxed error from a lower layer (a file reader, an LP solver, a device driver).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `cpwl`, one variant per failure class.
///
/// Every variant says *where* the problem is (a layer index, a file, an array
/// name). Sources from third-party crates are boxed, so no foreign type appears
/// in the public API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An array or layer has the wrong shape.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        /// The layer, argument or array at fault (for example `layer 3 (dense)`).
        what: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// A value is NaN or infinite where a finite number is required.
    #[error("non-finite value in {what} at index {index}")]
    NonFinite {
        /// The array or argument holding the value.
        what: String,
        /// The flat index of the first non-finite value.
        index: usize,
    },
    /// An argument or option is outside its valid range.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The argument or option.
        what: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A file could not be read or does not follow its format.
    #[error("bad file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A layer or operator outside the CPWL subset the crate supports.
    #[error("unsupported {op} at {layer}")]
    Unsupported {
        /// The layer or graph node.
        layer: String,
        /// The operator or feature.
        op: String,
    },
    /// A linear program could not be solved.
    #[error("linear program failed for {context}: {reason}")]
    Lp {
        /// What the LP was for (for example the region's pattern).
        context: String,
        /// The solver's complaint.
        reason: String,
    },
    /// A budget (regions, time) ran out or the run was cancelled.
    #[error("budget exceeded: {limit}")]
    Budget {
        /// Which limit was hit.
        limit: String,
    },
    /// A backend cannot be used on this machine.
    #[error("backend {name} unavailable: {reason}")]
    BackendUnavailable {
        /// The backend.
        name: String,
        /// Why (no driver, no device, ...).
        reason: String,
    },
    /// A backend failed while running a kernel.
    #[error("backend {name} failed")]
    Backend {
        /// The backend.
        name: String,
        /// The device error.
        #[source]
        source: BoxError,
    },
}

/// `Result` with [`Error`] as the error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Shape`] from anything printable.
    pub(crate) fn shape(
        what: impl Into<String>,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// An [`Error::Invalid`] from anything printable.
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Checks that every value is finite, naming the first offender.
pub(crate) fn check_finite<'a>(what: &str, values: impl IntoIterator<Item = &'a f64>) -> Result<()> {
    match values.into_iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NonFinite {
            what: what.to_string(),
            index,
        }),
        None => Ok(()),
    }
}

/// Checks that every value of a batch is finite, naming the first offender's
/// row (`"{what} row {r}"`) and its column (the error's index).
pub(crate) fn check_finite_rows(what: &str, x: ndarray::ArrayView2<f64>) -> Result<()> {
    // One pass in memory order first; the row only to name the offender.
    let all_finite = match x.as_slice_memory_order() {
        Some(values) => values.iter().all(|v| v.is_finite()),
        None => x.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    for (r, row) in x.outer_iter().enumerate() {
        check_finite(&format!("{what} row {r}"), row.iter())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<Error>() <= 88);
    }

    #[test]
    fn batch_errors_name_the_row_and_column() {
        let mut x = ndarray::Array2::<f64>::zeros((4, 3));
        assert!(check_finite_rows("points", x.view()).is_ok());
        x[[2, 1]] = f64::NAN;
        match check_finite_rows("points", x.view()) {
            Err(Error::NonFinite { what, index }) => assert_eq!((what.as_str(), index), ("points row 2", 1)),
            other => panic!("{other:?}"),
        }
    }
}
