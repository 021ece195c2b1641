//! The exact variant of local complexity: linear regions inside the true
//! neighbourhood, by region enumeration restricted to the cross-polytope.

use ndarray::{Array1, Array2, ArrayView2};

use crate::regions::{enumerate, EnumOptions, Method};
use crate::{Domain, Error, Network, Polytope, Result};

/// The largest number of directions the exact variant accepts: the
/// cross-polytope of `P` directions has `2^P` facets.
pub const MAX_EXACT_DIRECTIONS: usize = 12;

/// The exact local complexity of one point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExactLc {
    /// Linear regions that meet the neighbourhood's interior.
    pub regions: usize,
    /// Distinct hidden units whose (bent) zero set meets the neighbourhood's
    /// interior: the units that differ between two adjacent regions inside it.
    pub units: usize,
}

/// The exact local complexity around every row of `points`: the
/// neighbourhood is the cross-polytope `{x + r sum_i c_i v_i : sum_i |c_i| <= 1}`
/// of the same radius and directions as [`super::local_complexity`] (use
/// [`super::Directions::resolve`] to get the directions), enumerated exactly
/// with the LP walk in the `P` coordinates `c`.
///
/// The approximation counts, layer by layer, hyperplanes that separate the
/// vertices' embeddings; this counts what is really there, so the two can be
/// compared point by point.
///
/// # Errors
///
/// [`Error::Shape`] for mismatched dimensions, [`Error::Unsupported`] for more
/// than [`MAX_EXACT_DIRECTIONS`] directions, [`Error::Invalid`] for a bad radius
/// or linearly dependent directions, enumeration errors (budgets in `opts`).
pub fn exact_local_complexity(
    net: &Network,
    points: ArrayView2<f64>,
    radius: f64,
    directions: ArrayView2<f64>,
    opts: &EnumOptions,
) -> Result<Vec<ExactLc>> {
    let p = directions.nrows();
    if p > MAX_EXACT_DIRECTIONS {
        return Err(Error::Unsupported {
            layer: "exact local complexity".into(),
            op: format!("{p} directions (at most {MAX_EXACT_DIRECTIONS}: the cross-polytope has 2^P facets)"),
        });
    }
    if directions.ncols() != net.input_dim() || points.ncols() != net.input_dim() || p == 0 {
        return Err(Error::shape(
            "points and directions",
            format!("n x {0} and P x {0}", net.input_dim()),
            format!("{:?} and {:?}", points.dim(), directions.dim()),
        ));
    }
    if !(radius.is_finite() && radius > 0.0) {
        return Err(Error::invalid(
            "radius",
            format!("{radius} must be finite and positive"),
        ));
    }
    let ball = l1_ball(p);
    let basis = directions.mapv(|v| v * radius);
    let opts = EnumOptions {
        method: Method::Lp,
        ..opts.clone()
    };
    points
        .outer_iter()
        .map(|x| {
            let domain = Domain::affine(x.to_owned(), basis.clone(), ball.clone());
            let part = enumerate(net, &domain, &opts)?;
            let mut units = vec![false; net.unit_count()];
            for (i, j) in part.adjacency() {
                let (a, b) = (part.regions()[i].pattern(), part.regions()[j].pattern());
                for (u, flag) in units.iter_mut().enumerate() {
                    *flag |= a.get(u) != b.get(u);
                }
            }
            Ok(ExactLc {
                regions: part.len(),
                units: units.iter().filter(|&&f| f).count(),
            })
        })
        .collect()
}

/// `{c : s . c <= 1 for every sign vector s}`, the unit L1 ball of R^p.
fn l1_ball(p: usize) -> Polytope {
    let rows = 1usize << p;
    let a = Array2::from_shape_fn((rows, p), |(r, k)| if r >> k & 1 == 1 { -1.0 } else { 1.0 });
    Polytope {
        a,
        b: Array1::ones(rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn first_layer_counts_equal_hyperplanes_meeting_the_cross_polytope() {
        // Three lines in the plane; the neighbourhood of the origin with
        // radius 1 (the diamond |x| + |y| <= 1) meets x = 0.5 and y = -0.2, not x + y = 3.
        let net = Network::builder(2)
            .dense(
                array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                array![-0.5, 0.2, -3.0],
            )
            .unwrap()
            .relu()
            .dense(array![[1.0, 1.0, 1.0]], array![0.0])
            .unwrap()
            .build()
            .unwrap();
        let dirs = array![[1.0, 0.0], [0.0, 1.0]];
        let got = exact_local_complexity(
            &net,
            array![[0.0, 0.0]].view(),
            1.0,
            dirs.view(),
            &EnumOptions::default(),
        )
        .unwrap();
        // The two lines cross inside the diamond (at (0.5, -0.2)): 4 regions.
        assert_eq!(got, vec![ExactLc { regions: 4, units: 2 }]);
    }

    #[test]
    fn too_many_directions_is_unsupported() {
        let net = Network::builder(13)
            .dense(Array2::eye(13), Array1::zeros(13))
            .unwrap()
            .relu()
            .build()
            .unwrap();
        let dirs = Array2::eye(13);
        let e = exact_local_complexity(
            &net,
            Array2::zeros((1, 13)).view(),
            0.1,
            dirs.view(),
            &EnumOptions::default(),
        );
        assert!(matches!(e, Err(Error::Unsupported { .. })));
    }
}
