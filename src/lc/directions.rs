//! The `P` directions that span every point's neighbourhood.

use std::cmp::Ordering;
use std::f64::consts::TAU;

use ndarray::{Array2, ArrayView2};

use super::orthogonal::{expm, normalise_rows, orthonormalise_rows, skew_from_lower};
use super::torch_rng::linear_weight;
use crate::error::{check_finite, Error, Result};
use crate::rng::SplitMix64;
use crate::tol::TOL_UNIT_NORM;

/// The directions `v_1..v_P` of the cross-polytope around each point.
///
/// # Semantics
///
/// [`Directions::resolve`] turns the choice into a `P x D` matrix whose rows are
/// unit vectors; the same rows serve every point.
///
/// - `Given(m)`: the caller's matrix, used as it is. Its rows must have unit
///   norm (within [`TOL_UNIT_NORM`]) so that every vertex lies at the radius
///   from its point; they are not rescaled silently. Orthogonality is not
///   required: the reference's own directions are not orthogonal when `P > D`,
///   and any matrix `resolve` returns can be given back.
/// - `Seeded { count, seed }`: `count` orthonormal directions from the crate's
///   generator: SplitMix64 (Steele, Lea and Flood 2014) seeded with `seed`
///   gives 53-bit uniforms `u` in `(0, 1]`; Box-Muller turns consecutive pairs
///   into standard normals (`sqrt(-2 ln u1) cos(2 pi u2)`, then the `sin` twin),
///   which fill a `count x D` matrix row by row; Gram-Schmidt orthonormalises its
///   rows in order. The rows are uniformly distributed on the Stiefel manifold.
///   `count > D` is an error (there are at most `D` orthonormal directions).
/// - `ReferenceCompatible { count, seed }`: the directions of the published
///   PyTorch scripts for the same seed: `torch.manual_seed(seed)`, the float64
///   weight `W` (`count x D`) of `nn.Linear(D, count)`, then PyTorch's
///   `orthogonal` parametrisation without trivialisation: for `count < D` the
///   rows of `W` orthonormalised in order (the `Q` of the thin QR of `W^T` with a
///   positive diagonal of `R`); for `count = D` the rows of
///   `expm(tril(W) - tril(W)^T)`; for `count > D` the rows of the `Q` factor of
///   the thin QR of `W` (positive diagonal of `R`), each scaled to unit length.
///   PyTorch keeps only the low 32 bits of the seed, and so does this.
///
/// # Validity
///
/// `count >= 1` and `D >= 1`; a given matrix has `D` columns, at least one row
/// and finite entries.
#[derive(Clone, Debug, PartialEq)]
pub enum Directions {
    /// The caller's `P x D` matrix of unit rows.
    Given(Array2<f64>),
    /// `count` orthonormal directions from the crate's seeded generator.
    Seeded {
        /// The number of directions `P`.
        count: usize,
        /// The generator's seed.
        seed: u64,
    },
    /// The directions the reference PyTorch scripts draw for this seed.
    ReferenceCompatible {
        /// The number of directions `P`.
        count: usize,
        /// The value given to `torch.manual_seed`.
        seed: u64,
    },
}

impl Directions {
    /// The `P x dim` direction matrix, with unit rows.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for `dim == 0`, `count == 0`, a `Seeded` count above
    /// `dim`, or given rows that are not unit vectors; [`Error::Shape`] for a
    /// given matrix with the wrong number of columns or no rows;
    /// [`Error::NonFinite`] for a given matrix with a NaN or infinity.
    ///
    /// # Example
    ///
    /// ```
    /// use cpwl::lc::Directions;
    ///
    /// let v = Directions::ReferenceCompatible { count: 3, seed: 7 }.resolve(10)?;
    /// assert_eq!(v.dim(), (3, 10));
    /// let gram = v.dot(&v.t());
    /// for i in 0..3 {
    ///     for j in 0..3 {
    ///         let expected = if i == j { 1.0 } else { 0.0 };
    ///         assert!((gram[[i, j]] - expected).abs() < 1e-12);
    ///     }
    /// }
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn resolve(&self, dim: usize) -> Result<Array2<f64>> {
        if dim == 0 {
            return Err(Error::invalid("input dimension", "must be at least 1"));
        }
        match self {
            Directions::Given(m) => validated_given(m.view(), dim),
            Directions::Seeded { count, seed } => seeded(checked_count(*count, dim)?, dim, *seed),
            Directions::ReferenceCompatible { count, seed } => {
                reference_compatible(checked_count(*count, dim)?, dim, *seed)
            }
        }
    }
}

/// Rejects a zero count and counts whose matrix could not be addressed.
fn checked_count(count: usize, dim: usize) -> Result<usize> {
    if count == 0 {
        return Err(Error::invalid("direction count", "must be at least 1"));
    }
    if count.checked_mul(dim).is_none_or(|n| n > isize::MAX as usize / 8) {
        return Err(Error::invalid(
            "direction count",
            format!("{count} x {dim} directions do not fit in memory"),
        ));
    }
    Ok(count)
}

fn validated_given(m: ArrayView2<f64>, dim: usize) -> Result<Array2<f64>> {
    if m.ncols() != dim || m.nrows() == 0 {
        return Err(Error::shape(
            "directions",
            format!("P x {dim} with P >= 1"),
            format!("{} x {}", m.nrows(), m.ncols()),
        ));
    }
    check_finite("directions", m.iter())?;
    for (i, row) in m.rows().into_iter().enumerate() {
        let norm = row.dot(&row).sqrt();
        if (norm - 1.0).abs() > TOL_UNIT_NORM {
            return Err(Error::invalid(
                "directions",
                format!("row {i} has norm {norm}; directions must be unit vectors"),
            ));
        }
    }
    Ok(m.to_owned())
}

fn seeded(count: usize, dim: usize, seed: u64) -> Result<Array2<f64>> {
    if count > dim {
        return Err(Error::invalid(
            "direction count",
            format!("{count} orthonormal directions do not exist in dimension {dim}"),
        ));
    }
    let mut normals = GaussianStream::new(seed);
    let draws = Array2::from_shape_simple_fn((count, dim), || normals.next_normal());
    orthonormalise_rows(draws.view())
}

fn reference_compatible(count: usize, dim: usize, seed: u64) -> Result<Array2<f64>> {
    let w = linear_weight(count, dim, seed);
    match count.cmp(&dim) {
        Ordering::Less => orthonormalise_rows(w.view()),
        Ordering::Equal => Ok(expm(skew_from_lower(w.view()).view())),
        Ordering::Greater => {
            let q = orthonormalise_rows(w.t())?.reversed_axes();
            normalise_rows(q)
        }
    }
}

/// Standard normals from SplitMix64 by the Box-Muller transform, in pairs.
struct GaussianStream {
    uniforms: SplitMix64,
    spare: Option<f64>,
}

impl GaussianStream {
    fn new(seed: u64) -> Self {
        GaussianStream {
            uniforms: SplitMix64(seed),
            spare: None,
        }
    }

    fn next_normal(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let radius = (-2.0 * self.uniforms.next_open_unit().ln()).sqrt();
        let (sin, cos) = (TAU * self.uniforms.next_open_unit()).sin_cos();
        self.spare = Some(radius * sin);
        radius * cos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{read_json, read_matrix, vector_cases};
    use ndarray::{array, Array2};

    fn max_abs_diff(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
        (&a - &b).iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    fn gram_error(v: ArrayView2<f64>) -> f64 {
        let gram = v.dot(&v.t());
        max_abs_diff(gram.view(), Array2::eye(v.nrows()).view())
    }

    fn unit_row_error(v: ArrayView2<f64>) -> f64 {
        v.rows()
            .into_iter()
            .map(|r| (r.dot(&r).sqrt() - 1.0).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn reference_directions_match_the_vectors() {
        let mut cases = 0;
        for dir in vector_cases("directions") {
            let meta = read_json(&dir.join("expected.json"));
            let (dim, count, seed) = (
                meta["dim"].as_u64().unwrap() as usize,
                meta["count"].as_u64().unwrap() as usize,
                meta["seed"].as_u64().unwrap(),
            );
            let expected = read_matrix(&dir.join(meta["file"].as_str().unwrap()));
            let got = Directions::ReferenceCompatible { count, seed }
                .resolve(dim)
                .unwrap();
            let err = max_abs_diff(got.view(), expected.view());
            assert!(err <= 1e-10, "{}: max difference {err}", dir.display());
            cases += 1;
        }
        assert!(cases >= 2, "only {cases} direction vectors found");
    }

    #[test]
    fn lc_vectors_directions_come_from_their_seed() {
        let mut cases = 0;
        for dir in vector_cases("lc") {
            let meta = read_json(&dir.join("expected.json"));
            let count = meta["directions_count"].as_u64().unwrap() as usize;
            let seed = meta["reference_direction_seed"].as_u64().unwrap();
            let expected = read_matrix(&dir.join("directions.npy"));
            let got = Directions::ReferenceCompatible { count, seed }
                .resolve(expected.ncols())
                .unwrap();
            let err = max_abs_diff(got.view(), expected.view());
            assert!(err <= 1e-10, "{}: max difference {err}", dir.display());
            cases += 1;
        }
        assert!(cases >= 3, "only {cases} lc vectors found");
    }

    #[test]
    fn reference_square_case_is_the_exponential_of_the_skew_part() {
        // For D = P = 2, expm([[0, -w10], [w10, 0]]) is the rotation by w10.
        let w = linear_weight(2, 2, 3);
        let v = Directions::ReferenceCompatible { count: 2, seed: 3 }
            .resolve(2)
            .unwrap();
        let (s, c) = w[[1, 0]].sin_cos();
        assert!(max_abs_diff(v.view(), array![[c, -s], [s, c]].view()) < 1e-15);

        let v = Directions::ReferenceCompatible { count: 5, seed: 1 }
            .resolve(5)
            .unwrap();
        assert!(gram_error(v.view()) < 1e-13);
    }

    #[test]
    fn reference_tall_case_is_q_of_w_with_unit_rows() {
        // For P = 3 > D = 2, Q = W R^-1 with R^T R = W^T W (R upper, positive
        // diagonal): the 2 x 2 Cholesky factor in closed form.
        let (count, dim, seed) = (3, 2, 5);
        let w = linear_weight(count, dim, seed);
        let g = w.t().dot(&w);
        let r00 = g[[0, 0]].sqrt();
        let r01 = g[[0, 1]] / r00;
        let r11 = (g[[1, 1]] - r01 * r01).sqrt();
        let r_inv = array![[1.0 / r00, -r01 / (r00 * r11)], [0.0, 1.0 / r11]];
        let q = w.dot(&r_inv);
        let mut expected = q.clone();
        for mut row in expected.rows_mut() {
            let n = row.dot(&row).sqrt();
            row /= n;
        }
        let v = Directions::ReferenceCompatible { count, seed }
            .resolve(dim)
            .unwrap();
        assert!(max_abs_diff(v.view(), expected.view()) < 1e-13);
        assert!(unit_row_error(v.view()) < 1e-15);
    }

    #[test]
    fn seeded_directions_are_orthonormal_and_reproducible() {
        for (count, dim) in [(1, 1), (3, 10), (25, 784), (6, 6)] {
            let a = Directions::Seeded { count, seed: 42 }.resolve(dim).unwrap();
            assert_eq!(a.dim(), (count, dim));
            assert!(gram_error(a.view()) < 1e-13, "{count} x {dim}");
            let b = Directions::Seeded { count, seed: 42 }.resolve(dim).unwrap();
            assert_eq!(a, b);
        }
        let a = Directions::Seeded { count: 2, seed: 1 }.resolve(5).unwrap();
        let b = Directions::Seeded { count: 2, seed: 2 }.resolve(5).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn seeded_normals_have_unit_variance() {
        let mut g = GaussianStream::new(9);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| g.next_normal()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        // Five standard errors: 5 / sqrt(n) for the mean, 5 sqrt(2 / n) for the variance.
        assert!(mean.abs() < 5.0 / (n as f64).sqrt());
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt());
    }

    #[test]
    fn given_directions_are_validated() {
        let ok = array![[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]];
        assert_eq!(Directions::Given(ok.clone()).resolve(3).unwrap(), ok);
        let not_unit = array![[0.6, 0.8, 0.1]];
        assert!(matches!(
            Directions::Given(not_unit).resolve(3),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            Directions::Given(ok.clone()).resolve(4),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Directions::Given(Array2::zeros((0, 3))).resolve(3),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Directions::Given(array![[f64::NAN, 1.0]]).resolve(2),
            Err(Error::NonFinite { index: 0, .. })
        ));
    }

    #[test]
    fn bad_counts_and_dimensions_are_errors() {
        let cases = [
            (Directions::Seeded { count: 0, seed: 0 }, 3),
            (Directions::Seeded { count: 4, seed: 0 }, 3),
            (Directions::ReferenceCompatible { count: 0, seed: 0 }, 3),
            (Directions::ReferenceCompatible { count: 1, seed: 0 }, 0),
            (
                Directions::ReferenceCompatible {
                    count: usize::MAX,
                    seed: 0,
                },
                2,
            ),
        ];
        for (directions, dim) in cases {
            assert!(
                matches!(directions.resolve(dim), Err(Error::Invalid { .. })),
                "{directions:?} in dimension {dim}"
            );
        }
    }
}
