//! A region's facet rows and affine map from its pattern: the rows of
//! [`crate::regions::hrep::raw_region`] at the region's facets only, with
//! the same arithmetic (so the same bits), built straight into the result.
//! `raw_region` writes every domain and unit row, each a vector of its own,
//! and a skeleton region keeps a few dozen of them.

use ndarray::{s, Array1, Array2};

use crate::regions::hrep::RowSource;
use crate::regions::setup::Frame;
use crate::{Affine, Network, Polytope};

/// The facet rows of the regions of one network in one frame.
pub(super) struct FacetRows<'a> {
    net: &'a Network,
    frame: &'a Frame,
    /// Per unit (pattern index): its nonlinearity and its column there.
    place: Vec<(usize, usize)>,
}

impl<'a> FacetRows<'a> {
    pub fn new(net: &'a Network, frame: &'a Frame) -> FacetRows<'a> {
        let mut place = vec![(0, 0); net.unit_count()];
        for (l, nl) in net.program().nonlinearities().enumerate() {
            for (j, u) in nl.units().enumerate() {
                place[u] = (l, j);
            }
        }
        FacetRows { net, frame, place }
    }

    /// The rows `a y <= b` of the hyperplanes `facets` (domain rows, then
    /// units after them, as in the skeleton's numbering) of the region with
    /// two-piece unit values `values`, their sources, and the network's
    /// affine map there.
    pub fn region(&self, values: &[u8], facets: &[usize]) -> (Polytope, Vec<RowSource>, Affine) {
        let Frame {
            constraints: dom,
            basis,
            origin,
        } = self.frame;
        let (pre, out) = self.net.preactivation_maps(values, basis.view(), origin);
        let (k, m) = (basis.nrows(), dom.len());
        let mut a = Array2::zeros((facets.len(), k));
        let mut b = Array1::zeros(facets.len());
        let mut sources = Vec::with_capacity(facets.len());
        for (i, &h) in facets.iter().enumerate() {
            if h < m {
                a.row_mut(i).assign(&dom.a.row(h));
                b[i] = dom.b[h];
                sources.push(RowSource::Domain(h));
            } else {
                let u = h - m;
                let (l, j) = self.place[u];
                let z = &pre[l];
                // Piece 1 means z > 0, written -z <= 0; piece 0 means z <= 0.
                let sign = if values[u] == 1 { -1.0 } else { 1.0 };
                a.row_mut(i)
                    .zip_mut_with(&z.slice(s![..k, j]), |r, &v| *r = sign * v);
                b[i] = -sign * z[[k, j]];
                sources.push(RowSource::Unit(u));
            }
        }
        let affine = Affine {
            a: out.slice(s![..k, ..]).t().to_owned(),
            b: out.row(k).to_owned(),
        };
        (Polytope { a, b }, sources, affine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::hrep::raw_region;
    use crate::{Domain, Plane, Window};
    use ndarray::{array, Axis};

    #[test]
    fn facet_rows_are_raw_region_rows_bit_for_bit() {
        let net = Network::builder(3)
            .dense(
                array![[1.0, -0.3, 0.2], [0.1, 0.7, -1.1], [0.4, 0.4, 0.9]],
                array![0.1, -0.2, 0.05],
            )
            .unwrap()
            .leaky_relu(0.1)
            .dense(array![[0.5, -1.5, 0.25], [1.0, 0.3, -0.7]], array![0.3, -0.1])
            .unwrap()
            .relu()
            .dense(array![[1.0, -1.0]], array![0.2])
            .unwrap()
            .build()
            .unwrap();
        let plane = Plane::from_basis(
            array![0.1, 0.2, -0.3],
            array![1.0, 0.0, 0.0],
            array![0.0, 0.6, 0.8],
        )
        .unwrap();
        let domains = [
            Domain::cube(3, -1.0, 1.0),
            Domain::plane(plane, Window::square(2.0)),
        ];
        for domain in domains {
            let frame = Frame::of(&domain).unwrap();
            let rows = FacetRows::new(&net, &frame);
            let all = frame.constraints.len() + net.unit_count();
            for values in [[0u8, 1, 1, 0, 1], [1, 1, 0, 1, 0]] {
                let raw = raw_region(&net, &values, &frame);
                for facets in [(0..all).collect::<Vec<_>>(), vec![1, all - 4, all - 1]] {
                    let (poly, sources, affine) = rows.region(&values, &facets);
                    assert_eq!(poly.a, raw.polytope.a.select(Axis(0), &facets));
                    assert_eq!(poly.b, raw.polytope.b.select(Axis(0), &facets));
                    let want: Vec<RowSource> = facets.iter().map(|&h| raw.sources[h]).collect();
                    assert_eq!(sources, want);
                    assert_eq!(affine.a, raw.affine.a);
                    assert_eq!(affine.b, raw.affine.b);
                }
            }
        }
    }
}
