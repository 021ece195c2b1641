//! A region's facet rows and affine map from its pattern: the rows of
//! [`crate::regions::hrep::raw_region`] at the region's facets only, with
//! the same arithmetic (so the same bits), built straight into the result.
//! `raw_region` writes every domain and unit row, each a vector of its own,
//! and a skeleton region keeps a few dozen of them.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::network::eval::{choose, through_steps, Blocks};
use crate::network::Step;
use crate::regions::hrep::{two_piece_row, RowSource};
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

    /// For each region of `batch` (its two-piece unit values and the
    /// hyperplanes of its facets: domain rows, then units after them, as in
    /// the skeleton's numbering), the rows `a y <= b` of its facets, their
    /// sources, and the network's affine map there. The whole batch goes
    /// through each layer's product at once, one block of rows per distinct
    /// pattern of the layers before ([`shared_blocks`]), which gives each
    /// region the bits it gets alone; each region's unit rows are taken
    /// from a layer's pre-activations as they come by.
    pub fn regions(&self, batch: &[(&[u8], &[usize])]) -> Vec<(Polytope, Vec<RowSource>, Affine)> {
        let Frame { basis, origin, .. } = self.frame;
        let k = basis.nrows();
        let mut rows = Array2::zeros((k + 1, basis.ncols()));
        rows.slice_mut(s![..k, ..]).assign(basis);
        rows.row_mut(k).assign(origin);
        let mut patterns = Array2::zeros((batch.len(), self.place.len()));
        for (r, (values, _)) in batch.iter().enumerate() {
            patterns.row_mut(r).assign(&ArrayView1::from(*values));
        }
        let blocks = Blocks {
            block: k + 1,
            offset_row: k,
        };
        let mut cells: Vec<(Polytope, Vec<RowSource>)> = batch
            .iter()
            .map(|&(_, facets)| self.domain_rows(facets))
            .collect();
        let mut layer = 0;
        let mut pre = |z: ArrayView2<'_, f64>, owner: &[usize]| {
            for ((&(values, facets), (poly, _)), &o) in batch.iter().zip(&mut cells).zip(owner) {
                let block = z.slice(s![o * (k + 1)..(o + 1) * (k + 1), ..]);
                self.unit_rows(layer, values, facets, block, poly);
            }
            layer += 1;
        };
        let steps = self.net.program().steps();
        let (out, owner) = shared_blocks(steps, rows, blocks, patterns.view(), &mut pre);
        cells
            .into_iter()
            .zip(owner)
            .map(|((poly, sources), o)| {
                let out = out.slice(s![o * (k + 1)..(o + 1) * (k + 1), ..]);
                let affine = Affine {
                    a: out.slice(s![..k, ..]).t().to_owned(),
                    b: out.row(k).to_owned(),
                };
                (poly, sources, affine)
            })
            .collect()
    }

    /// A region's facet rows with the domain's filled in (the units' are
    /// zero until [`FacetRows::unit_rows`]), and their sources.
    fn domain_rows(&self, facets: &[usize]) -> (Polytope, Vec<RowSource>) {
        let dom = &self.frame.constraints;
        let (k, m) = (self.frame.basis.nrows(), dom.len());
        let mut a = Array2::zeros((facets.len(), k));
        let mut b = Array1::zeros(facets.len());
        let mut sources = Vec::with_capacity(facets.len());
        for (i, &h) in facets.iter().enumerate() {
            if h < m {
                a.row_mut(i).assign(&dom.a.row(h));
                b[i] = dom.b[h];
                sources.push(RowSource::Domain(h));
            } else {
                sources.push(RowSource::Unit(h - m));
            }
        }
        (Polytope { a, b }, sources)
    }

    /// Writes to `poly` the region's facet rows of the units of nonlinearity
    /// `layer` from their pre-activation maps `z` (`k + 1` rows: the
    /// directions, then the offset).
    fn unit_rows(
        &self,
        layer: usize,
        values: &[u8],
        facets: &[usize],
        z: ArrayView2<'_, f64>,
        poly: &mut Polytope,
    ) {
        let (k, m) = (self.frame.basis.nrows(), self.frame.constraints.len());
        for (i, &h) in facets.iter().enumerate() {
            let Some(u) = h.checked_sub(m) else { continue };
            let (l, j) = self.place[u];
            if l == layer {
                poly.b[i] = two_piece_row(z.column(j), k, values[u], poly.a.row_mut(i));
            }
        }
    }
}

/// The frozen maps of `patterns.nrows()` regions that all start from the
/// block `rows`, as [`crate::network::eval::frozen_blocks`] gives each alone,
/// with each product run once per distinct prefix of the patterns (the
/// units of the nonlinearities so far): regions of one cell of the first
/// layers share its products. `pre` sees each nonlinearity's
/// pre-activation blocks with, per region, the index of its block; the
/// output blocks come back with the same index per region.
///
/// Every block goes through each step as it would alone (the products
/// give each row the bits it gets alone), so sharing changes no bit. The
/// skeleton's networks have dense steps and two-piece units only
/// ([`super::split::layers`] turns away the rest), so no skip path spans a
/// nonlinearity, whose block set it would not match.
fn shared_blocks(
    steps: &[Step],
    rows: Array2<f64>,
    blocks: Blocks,
    patterns: ArrayView2<u8>,
    pre: &mut dyn FnMut(ArrayView2<'_, f64>, &[usize]),
) -> (Array2<f64>, Vec<usize>) {
    let mut owner = vec![0; patterns.nrows()];
    let out = through_steps(steps, rows, blocks, |nl, h, skipping| {
        assert!(!skipping, "a skip path across a nonlinearity");
        pre(h.view(), &owner);
        let choices = patterns.slice(s![.., nl.units()]);
        let firsts = distinct(&mut owner, choices);
        let regions: Vec<usize> = firsts.iter().map(|&(_, r)| r).collect();
        choose(
            nl,
            gather_blocks(&h, &firsts, blocks.block),
            blocks,
            choices.select(Axis(0), &regions).view(),
        )
    });
    (out, owner)
}

/// The blocks of `block` rows of `h` named first in each pair of `firsts`,
/// in that order (one copy per row block, where `select` goes row by row).
fn gather_blocks(h: &Array2<f64>, firsts: &[(usize, usize)], block: usize) -> Array2<f64> {
    let h = h.as_standard_layout();
    let flat = h.as_slice().unwrap_or_else(|| unreachable!("standard layout"));
    let size = block * h.ncols();
    let mut out = Vec::with_capacity(firsts.len() * size);
    for &(o, _) in firsts {
        out.extend_from_slice(&flat[o * size..(o + 1) * size]);
    }
    Array2::from_shape_vec((firsts.len() * block, h.ncols()), out)
        .unwrap_or_else(|_| unreachable!("whole blocks of the same width"))
}

/// The distinct pairs of a region's block (`owner`) and its `choices` row,
/// as (block, first region) in order of first region; `owner` becomes each
/// region's pair index.
fn distinct(owner: &mut [usize], choices: ArrayView2<u8>) -> Vec<(usize, usize)> {
    let mut firsts: Vec<(usize, usize)> = Vec::new();
    for (r, own) in owner.iter_mut().enumerate() {
        let same = |&(o, f): &(usize, usize)| o == *own && choices.row(f) == choices.row(r);
        // Regions come in unit order, so a pair seen before is almost
        // always the last one.
        *own = match firsts.iter().rposition(same) {
            Some(i) => i,
            None => {
                firsts.push((*own, r));
                firsts.len() - 1
            }
        };
    }
    firsts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::hrep::raw_region;
    use crate::{Domain, Plane, Window};
    use ndarray::{array, Axis};
    use rand::{rngs::StdRng, Rng, SeedableRng};

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
            let all = frame.constraints.len() + net.unit_count();
            let facet_sets = [(0..all).collect::<Vec<_>>(), vec![1, all - 4, all - 1]];
            let cases: Vec<([u8; 5], &[usize])> = [[0u8, 1, 1, 0, 1], [1, 1, 0, 1, 0], [1, 0, 0, 1, 1]]
                .into_iter()
                .flat_map(|v| facet_sets.iter().map(move |f| (v, f.as_slice())))
                .collect();
            let batch: Vec<(&[u8], &[usize])> = cases.iter().map(|(v, f)| (&v[..], *f)).collect();
            assert_batches_match_raw_region(&net, &frame, &batch);
        }
    }

    #[test]
    fn a_batch_of_w2_sized_regions_has_each_region_s_bits() {
        // Three 64-wide layers, as W2, and 40 random patterns (the batch
        // products are far larger than one region's): every region's rows
        // and map are raw_region's, bit for bit.
        let mut rng = StdRng::seed_from_u64(2);
        let d = 4;
        let mut builder = Network::builder(d);
        for fan_in in [d, 64, 64] {
            let w = Array2::from_shape_fn((64, fan_in), |_| rng.random_range(-0.5..0.5));
            let b = Array1::from_shape_fn(64, |_| rng.random_range(-0.5..0.5));
            builder = builder.dense(w, b).unwrap().relu();
        }
        let net = builder
            .dense(
                Array2::from_shape_fn((1, 64), |_| rng.random_range(-0.5..0.5)),
                array![0.1],
            )
            .unwrap()
            .build()
            .unwrap();
        let frame = Frame::of(&Domain::cube(d, -0.1, 0.1)).unwrap();
        let all = frame.constraints.len() + net.unit_count();
        let cases: Vec<(Vec<u8>, Vec<usize>)> = (0..40)
            .map(|_| {
                let values = (0..net.unit_count()).map(|_| rng.random_range(0..2u8)).collect();
                let facets = (0..all).filter(|_| rng.random_bool(0.2)).collect();
                (values, facets)
            })
            .collect();
        let batch: Vec<(&[u8], &[usize])> = cases.iter().map(|(v, f)| (&v[..], &f[..])).collect();
        assert_batches_match_raw_region(&net, &frame, &batch);
    }

    /// The batch at once and each case alone give raw_region's rows, sources
    /// and map at the cases' facets, bit for bit.
    fn assert_batches_match_raw_region(net: &Network, frame: &Frame, batch: &[(&[u8], &[usize])]) {
        let rows = FacetRows::new(net, frame);
        let together = rows.regions(batch);
        let alone = batch.iter().flat_map(|&case| rows.regions(&[case]));
        for ((poly, sources, affine), &(values, facets)) in
            together.into_iter().chain(alone).zip(batch.iter().cycle())
        {
            let raw = raw_region(net, values, frame);
            assert_eq!(poly.a, raw.polytope.a.select(Axis(0), facets));
            assert_eq!(poly.b, raw.polytope.b.select(Axis(0), facets));
            let want: Vec<RowSource> = facets.iter().map(|&h| raw.sources[h]).collect();
            assert_eq!(sources, want);
            assert_eq!(affine.a, raw.affine.a);
            assert_eq!(affine.b, raw.affine.b);
        }
    }
}
