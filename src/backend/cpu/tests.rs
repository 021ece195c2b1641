//! Tests of the CPU backend's plain-MLP routes against independent ones: the
//! reverse-mode Jacobians written into the caller's array against the
//! generic evaluator and the shared vectors, and the f32 route against f64
//! away from near-ties: where a rounding-error bound derived per unit
//! ([`f32_bounds`]) shows that `f32` cannot pick another piece, and within
//! the sized margin of [`crate::tol::F32_TIE_BOUND`] wherever it might.

use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, Ix3};

use super::scratch::MlpLayer;
use super::*;
use crate::io::npy::read_npy;
use crate::rng::SplitMix64;
use crate::test_support::{read_matrix, vector_cases};
use crate::tol::F32_TIE_BOUND;

/// Seeded uniform matrices from the crate's SplitMix64.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(SplitMix64(seed))
    }

    fn matrix(&mut self, rows: usize, cols: usize, scale: f64) -> Array2<f64> {
        Array2::from_shape_simple_fn((rows, cols), || scale * (2.0 * self.0.next_open_unit() - 1.0))
    }

    /// `rows` directions in `cols` dimensions, each scaled to unit length.
    fn unit_rows(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        let mut dirs = self.matrix(rows, cols, 1.0);
        for mut row in dirs.rows_mut() {
            let norm = row.dot(&row).sqrt();
            row /= norm;
        }
        dirs
    }
}

/// A ReLU MLP (leaky in the middle layer) with uniform weights of He scale.
fn mlp(widths: &[usize], seed: u64) -> Network {
    let mut rng = Rng::new(seed);
    let mut b = Network::builder(widths[0]);
    for (k, pair) in widths.windows(2).enumerate() {
        let scale = (6.0 / pair[0] as f64).sqrt();
        let w = rng.matrix(pair[1], pair[0], scale);
        let bias = rng.matrix(1, pair[1], 0.1).row(0).to_owned();
        b = b.dense(w, bias).unwrap();
        if k + 2 < widths.len() {
            b = if k == 1 { b.leaky_relu(0.1) } else { b.relu() };
        }
    }
    b.build().unwrap()
}

/// The Jacobians of the generic evaluator (identity seeds pulled back by
/// [`eval::reverse`]), one chunk for all points.
fn generic_jacobians(net: &Network, x: ArrayView2<f64>) -> Array3<f64> {
    let (_, _, jac) = jacobian::jacobian_chunk(net, x);
    jac.into_shape_with_order((x.nrows(), net.output_dim(), net.input_dim()))
        .unwrap()
}

/// The largest difference between `a` and `b` in units of the largest
/// magnitude of `b`'s row (a relative error per Jacobian row).
fn row_relative_error(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
    let mut worst: f64 = 0.0;
    for (ra, rb) in a.rows().into_iter().zip(b.rows()) {
        let scale = rb
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(f64::MIN_POSITIVE);
        for (x, y) in ra.iter().zip(rb) {
            worst = worst.max((x - y).abs() / scale);
        }
    }
    worst
}

#[test]
fn reverse_jacobians_match_the_generic_evaluator() {
    let net = mlp(&[30, 24, 20, 16, 5], 3);
    let x = Rng::new(4).matrix(70, 30, 2.0);
    let want = generic_jacobians(&net, x.view());
    for cpu in [CpuBackend::default(), CpuBackend::serial().with_chunk(3)] {
        let got = cpu.jacobians(&net, x.view()).unwrap();
        let fwd = cpu.forward(&net, x.view(), Keep::Patterns).unwrap();
        assert_eq!(got.patterns, fwd.patterns.unwrap());
        assert_eq!(got.outputs, fwd.outputs);
        // The same products summed in GEMMs of other row counts: equal up
        // to a few ulps of each row's magnitude.
        assert!(row_relative_error(&got.jacobians, &want) < 1e-14);
    }
}

#[test]
fn reverse_jacobians_span_several_blocks_of_a_chunk() {
    // 5 outputs x 600 inputs: a block of the pull-back holds 43 points, so
    // one chunk of 100 points is pulled back in three blocks.
    let net = mlp(&[600, 40, 30, 5], 8);
    let x = Rng::new(5).matrix(100, 600, 1.0);
    let want = generic_jacobians(&net, x.view());
    let got = CpuBackend::serial().jacobians(&net, x.view()).unwrap();
    assert!(row_relative_error(&got.jacobians, &want) < 1e-14);
}

#[test]
fn reverse_jacobians_match_the_vectors() {
    let mut seen = 0;
    for dir in vector_cases("forward") {
        let net = Network::from_npz(dir.join("net.npz")).unwrap();
        assert!(jacobian::ReverseMlp::new(&net).is_some());
        let points = read_matrix(&dir.join("points.npy"));
        let bytes = std::fs::read(dir.join("jacobians.npy")).unwrap();
        let want = read_npy(&bytes)
            .unwrap()
            .into_f64()
            .unwrap()
            .into_dimensionality::<Ix3>()
            .unwrap();
        let got = CpuBackend::default().jacobians(&net, points.view()).unwrap();
        assert!(
            row_relative_error(&got.jacobians, &want) < 1e-9,
            "{}",
            dir.display()
        );
        assert!(row_relative_error(&got.jacobians, &generic_jacobians(&net, points.view())) < 1e-14);
        seen += 1;
    }
    assert!(seen >= 2);
}

#[test]
fn a_linear_network_has_its_weight_as_jacobian() {
    let w = ndarray::array![[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]];
    let net = Network::builder(3)
        .dense(w.clone(), ndarray::array![0.0, 1.0])
        .unwrap()
        .build()
        .unwrap();
    let x = Rng::new(9).matrix(5, 3, 1.0);
    let got = CpuBackend::default().jacobians(&net, x.view()).unwrap();
    for jac in got.jacobians.outer_iter() {
        assert_eq!(jac, w);
    }
}

/// The smallest tie margin `|z| / (|(w, b)| |(h, 1)|)` over every unit of
/// every two-piece layer at the point `x`, in f64.
fn tie_margin(net: &Network, x: ArrayView1<f64>) -> f64 {
    let prog = MlpProgram::<f64>::new(net.program().steps()).unwrap();
    let mut h: Array1<f64> = x.to_owned();
    let mut margin = f64::INFINITY;
    let mut last: Option<(ArrayView2<f64>, ArrayView1<f64>, Array1<f64>)> = None;
    for layer in &prog.layers {
        match layer {
            MlpLayer::Dense { w, b } => {
                let b = ArrayView1::from(&b[..]);
                let z = w.dot(&h) + b;
                last = Some((w.view(), b, h.clone()));
                h = z;
            }
            MlpLayer::TwoPiece { slopes, .. } => {
                let (w, b, input) = last.take().unwrap();
                let input_norm = (input.dot(&input) + 1.0).sqrt();
                for (j, &z) in h.iter().enumerate() {
                    let row_norm = (w.row(j).dot(&w.row(j)) + b[j] * b[j]).sqrt();
                    margin = margin.min(z.abs() / (row_norm * input_norm));
                }
                h.mapv_inplace(|z| z * slopes[usize::from(z > 0.0)]);
            }
        }
    }
    margin
}

/// The unit roundoff of `f32`.
const F32_UNIT_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// `gamma_n = n u / (1 - n u)`: a sum of `n` products rounded in `f32`
/// (any order, with or without fused multiply-adds) errs by at most
/// `gamma_n` times the sum of the products' magnitudes (Higham, *Accuracy
/// and Stability of Numerical Algorithms*, 3.1).
fn gamma(n: usize) -> f64 {
    let nu = n as f64 * F32_UNIT_ROUNDOFF;
    nu / (1.0 - nu)
}

/// Roundings beyond a dense layer's `k` products and sums that the `f32`
/// routes may add to a pre-activation: the points, weights, radius and bias
/// rounded to `f32`, the bias added after the GEMM, the sum `c +- d_k` of a
/// centre and a direction (the first layer's `T(c) +- T(m)` rounds `c` and
/// `m` to `f32` first: two more) and the `f64` reference's own rounding
/// (below one `f32` unit). Each is at most `u` of the terms' magnitudes
/// `|w| . (|c| + |d|) + |b|`.
const EXTRA_ROUNDINGS: usize = 7;

/// A forward pass in `f64` from the vertex `h0` of the neighbourhood centred
/// at `c0` with, for every unit, a bound on how far the `f32` route's value
/// can lie from it. The linear neighbourhood route multiplies the centre `c`
/// and each direction `d = h - c` separately (then adds `+- W d` to
/// `W c + b`), so its rounding scales with `|c| + |d|`, not `|h|`; the
/// centre is carried through the vertex's own pieces (the linear map the
/// route applies while the neighbourhood stays linear; an expanded vertex
/// row has `|h| <= |c| + |d|`, so the bound covers both lanes). Per dense
/// layer of `k` inputs, `E_j = |w_j| . e + gamma_{k+7} (|w_j| . m + |b_j|)`
/// with `e` the inputs' bounds (zero at the points) and `m = |c| + |d| + e`
/// the magnitudes the route multiplies; through a two-piece unit of slope
/// `s` (applied to `c` and `d` apart), `e = |s| E + u |s| (|c| + |d| + E)`
/// when `|z| > E`, so that both precisions pick the same piece. Returns
/// `None` when some two-piece unit has `|z| <= E` (a near-tie at this
/// bound: `f32` may pick the other piece), else the outputs and their bounds.
///
/// Tight where the sized [`F32_TIE_BOUND`] is loose: it charges each layer
/// `gamma_{k+7} |w_j| . m` (about 1e-6 for these widths instead of 1e-4)
/// plus the error carried in, unit by unit.
fn f32_bounds(net: &Network, h0: ArrayView1<f64>, c0: ArrayView1<f64>) -> Option<(Array1<f64>, Array1<f64>)> {
    let prog = MlpProgram::<f64>::new(net.program().steps()).unwrap();
    let mut h = h0.to_owned();
    let mut c = c0.to_owned();
    let mut e = Array1::<f64>::zeros(h.len());
    for layer in &prog.layers {
        let split = split_magnitudes(&h, &c);
        match layer {
            MlpLayer::Dense { w, b } => {
                let b = ArrayView1::from(&b[..]);
                let w_abs = w.mapv(f64::abs);
                let terms = w_abs.dot(&(split + &e)) + b.mapv(f64::abs);
                let carried = w_abs.dot(&e);
                e = carried + terms * gamma(w.ncols() + EXTRA_ROUNDINGS);
                h = w.dot(&h) + b;
                c = w.dot(&c) + b;
            }
            MlpLayer::TwoPiece { slopes, .. } => {
                if h.iter().zip(&e).any(|(z, bound)| z.abs() <= *bound) {
                    return None;
                }
                let units = h.iter_mut().zip(c.iter_mut()).zip(e.iter_mut());
                for (((z, centre), bound), m) in units.zip(&split) {
                    let slope = slopes[usize::from(*z > 0.0)];
                    let s = slope.abs();
                    *bound = s * *bound + F32_UNIT_ROUNDOFF * s * (m + *bound);
                    *z *= slope;
                    *centre *= slope;
                }
            }
        }
    }
    Some((h, e))
}

/// `|c| + |h - c|`: the magnitudes of the centre and direction whose sum is
/// the vertex value `h` (the `f64` difference's rounding is one of the
/// [`EXTRA_ROUNDINGS`]).
fn split_magnitudes(h: &Array1<f64>, c: &Array1<f64>) -> Array1<f64> {
    c.mapv(f64::abs) + (h - c).mapv(f64::abs)
}

#[test]
fn f32_patterns_agree_with_f64_away_from_ties() {
    let net = mlp(&[20, 32, 32, 32, 4], 11);
    let x = Rng::new(12).matrix(400, 20, 1.5);
    let f64_fwd = CpuBackend::default()
        .forward(&net, x.view(), Keep::PreActivations)
        .unwrap();
    let f32_cpu = CpuBackend::default().with_precision(Precision::F32);
    let f32_fwd = f32_cpu.forward(&net, x.view(), Keep::PreActivations).unwrap();
    let (want, got) = (f64_fwd.patterns.unwrap(), f32_fwd.patterns.unwrap());
    let mut ties = 0;
    for (i, (a, b)) in want.outer_iter().zip(got.outer_iter()).enumerate() {
        let point = x.row(i);
        match f32_bounds(&net, point, point) {
            // Same pieces, and outputs within their derived bounds.
            Some((_, bound)) => {
                assert_eq!(a, b, "point {i}: f32 pattern differs away from a near-tie");
                for (j, bound) in bound.iter().enumerate() {
                    let (p, q) = (f64_fwd.outputs[[i, j]], f32_fwd.outputs[[i, j]]);
                    assert!((p - q).abs() <= *bound, "point {i}, output {j}: {p} vs {q}");
                }
            }
            // A near-tie at the derived bound is one at the sized margin too.
            None => {
                ties += 1;
                assert!(tie_margin(&net, point) <= F32_TIE_BOUND, "point {i}");
            }
        }
    }
    // The derived bound excuses few points (the sized margin about 4 % of them).
    assert!(
        ties < x.nrows() / 50,
        "{ties} near-ties: the test would prove little"
    );
    for (za, zb) in f64_fwd
        .pre_activations
        .unwrap()
        .iter()
        .zip(f32_fwd.pre_activations.unwrap())
    {
        assert_eq!(za.dim(), zb.dim());
        assert!(za
            .iter()
            .zip(&zb)
            .all(|(a, b)| (a - b).abs() <= 1e-4 * (1.0 + a.abs())));
    }
    // The routes that write straight into the results give the same f32 answers.
    let plain = f32_cpu.forward(&net, x.view(), Keep::Patterns).unwrap();
    assert_eq!(plain.patterns.unwrap(), got);
    assert_eq!(plain.outputs, f32_fwd.outputs);
    assert_eq!(
        f32_cpu.forward(&net, x.view(), Keep::Outputs).unwrap().outputs,
        plain.outputs
    );
}

#[test]
fn f32_sign_changes_agree_with_f64_away_from_ties() {
    let net = mlp(&[16, 24, 24, 3], 21);
    let mut rng = Rng::new(22);
    let x = rng.matrix(150, 16, 1.0);
    let dirs = rng.unit_rows(6, 16);
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: 0.2,
        count_output: true,
    };
    let want = CpuBackend::default().sign_changes(&net, x.view(), hood).unwrap();
    let f32_cpu = CpuBackend::serial().with_precision(Precision::F32);
    let got = f32_cpu.sign_changes(&net, x.view(), hood).unwrap();
    assert!(want.sum() > 0, "the neighbourhoods cross some hyperplanes");
    let (mut ties, mut outputs_compared) = (0, 0);
    for (i, (a, b)) in want.outer_iter().zip(got.outer_iter()).enumerate() {
        let point = x.row(i);
        let verts = neighbourhood_vertices(x.slice(s![i..i + 1, ..]), dirs.view(), hood.radius);
        // Each vertex x +- r v_k is bounded as the centre x plus a
        // direction, the way the linear neighbourhood route holds it.
        let bounds: Option<Vec<_>> = verts
            .outer_iter()
            .map(|vertex| f32_bounds(&net, vertex, point))
            .collect();
        let Some(bounds) = bounds else {
            ties += 1;
            continue;
        };
        let hidden = a.len() - 1;
        assert_eq!(a.slice(s![..hidden]), b.slice(s![..hidden]), "point {i}");
        // The output layer has no two-piece units: its count is compared
        // where every output at every vertex is beyond its own bound.
        let clear = bounds
            .iter()
            .all(|(out, e)| out.iter().zip(e).all(|(z, e)| z.abs() > *e));
        if clear {
            assert_eq!(a[hidden], b[hidden], "point {i}: output layer");
            outputs_compared += 1;
        }
    }
    // Each point has 2P vertices x 48 units: few are near-ties at the derived bound.
    assert!(
        ties * 10 < x.nrows(),
        "{ties} near-ties: the test would prove little"
    );
    assert!(
        outputs_compared * 10 >= x.nrows() * 9,
        "{outputs_compared} output counts compared"
    );
    // Same answers from the parallel default tasks.
    let parallel = CpuBackend::default().with_precision(Precision::F32);
    assert_eq!(parallel.sign_changes(&net, x.view(), hood).unwrap(), got);
}

#[test]
fn f32_route_leaves_other_networks_in_f64() {
    // A max-pooling / maxout network is not a plain MLP: F32 runs it in f64.
    let net = crate::test_support::pooled_relu_maxout();
    let x = Rng::new(31).matrix(9, net.input_dim(), 1.0);
    let f32_cpu = CpuBackend::default().with_precision(Precision::F32);
    assert_eq!(
        f32_cpu.forward(&net, x.view(), Keep::Patterns).unwrap(),
        CpuBackend::default()
            .forward(&net, x.view(), Keep::Patterns)
            .unwrap()
    );
}

/// The rows of a chunk go through one GEMM per layer, so the chunk size
/// sets the GEMMs' row counts: outputs and patterns must not depend on it
/// (bit for bit), including depths beyond the GEMM's 512-deep blocks of
/// the inner dimension and chunks that split the 48-row register tiles.
/// (A chunk of a single row is the exception: faer multiplies it as a
/// matrix-vector product, which sums in another order; none of these
/// chunk sizes leaves a one-row chunk of the 300 points.)
#[test]
fn forward_bits_do_not_depend_on_the_chunk_size() {
    let net = mlp(&[700, 64, 48, 5], 21);
    let x = Rng::new(22).matrix(300, 700, 1.0);
    let want = CpuBackend::default()
        .forward(&net, x.view(), Keep::Patterns)
        .unwrap();
    let bits = |a: &Array2<f64>| a.mapv(f64::to_bits);
    for chunk in [2, 3, 7, 8, 48, 100, 298, 300, 1024] {
        for cpu in [CpuBackend::default(), CpuBackend::serial()] {
            let got = cpu
                .with_chunk(chunk)
                .forward(&net, x.view(), Keep::Patterns)
                .unwrap();
            assert_eq!(bits(&got.outputs), bits(&want.outputs), "chunk {chunk}");
            assert_eq!(got.patterns, want.patterns, "chunk {chunk}");
        }
    }
}

/// Offsets with a stride (a column of a matrix) are read as the same
/// values as contiguous ones: the same bits, and `a x + c` within rounding.
#[test]
fn affine_values_take_strided_offsets() {
    let mut rng = Rng::new(31);
    let a = rng.matrix(6, 9, 1.0);
    let points = rng.matrix(40, 9, 1.0);
    let columns = rng.matrix(6, 3, 1.0);
    let strided = columns.column(1);
    assert!(strided.as_slice().is_none());
    let contiguous = strided.to_owned();
    let cpu = CpuBackend::default();
    let got = cpu.affine_values(a.view(), strided, points.view()).unwrap();
    let want = cpu
        .affine_values(a.view(), contiguous.view(), points.view())
        .unwrap();
    assert_eq!(got.mapv(f64::to_bits), want.mapv(f64::to_bits));
    let direct = points.dot(&a.t()) + &contiguous;
    for (g, d) in got.iter().zip(&direct) {
        assert!((g - d).abs() <= 1e-12 * (1.0 + d.abs()), "{g} vs {d}");
    }
}

/// The linear neighbourhood pass ([`hood::LinearHood`]) counts what the
/// folded pass counts. Both run in `f64` here, where they differ only in
/// summation order (`W c + b +- W d` against `W (c +- d) + b`) and in the
/// slope applied to `c` and `d` apart (`s c +- s d` against `s (c +- d)`),
/// so only at a unit within rounding of zero; these seeded cases have none. The radii
/// cover points that stay linear through every layer, points that expand
/// into the vertex lane at each layer, and the output count of both lanes.
#[test]
fn linear_hood_counts_match_the_folded_pass() {
    let net = mlp(&[16, 24, 24, 24, 3], 41);
    let mut rng = Rng::new(42);
    let x = rng.matrix(90, 16, 1.0);
    let dirs = rng.unit_rows(5, 16);
    let counted = counted_layers(&net);
    // Over the radii, how many points first change sign at layer 0, 1, 2, or never.
    let mut first_change = [0usize; 4];
    assert_eq!(counted.len(), 3);
    for radius in [1e-3, 0.02, 0.1, 0.5] {
        let folded = vertices::FoldedMlp::<f64>::new(&net, dirs.view(), radius).unwrap();
        let linear = hood::LinearHood::<f64>::new(&net, dirs.view(), radius).unwrap();
        let want = folded.count_changes(x.view(), &counted, true);
        let got = linear.count_changes(x.view(), &counted, true);
        assert_eq!(got, want, "radius {radius}");
        for row in want.outer_iter() {
            let hidden = row.slice(s![..counted.len()]);
            first_change[hidden.iter().position(|&c| c > 0).unwrap_or(counted.len())] += 1;
        }
    }
    assert!(first_change.iter().all(|&n| n > 0), "{first_change:?}");
}

/// Exact ties: with small integer weights, integer points, unit directions
/// and radius 1, every value either pass sums is a small multiple of 1/2, so
/// both passes compute it exactly, vertices land exactly on units'
/// hyperplanes, and the linear pass must count what the vertex pass counts
/// however a zero is treated.
#[test]
fn linear_hood_counts_exact_ties_as_the_folded_pass() {
    use ndarray::array;
    let net = Network::builder(2)
        .dense(
            array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]],
            array![-1.0, 0.0, -1.0, 0.0],
        )
        .unwrap()
        .relu()
        .dense(
            array![
                [1.0, -1.0, 1.0, 0.0],
                [0.0, 1.0, -1.0, 1.0],
                [2.0, 0.0, -1.0, -1.0],
                [1.0, 1.0, 1.0, 1.0]
            ],
            array![0.0, -1.0, 1.0, -2.0],
        )
        .unwrap()
        .leaky_relu(0.5)
        .dense(
            array![[1.0, -1.0, 0.0, 1.0], [0.0, 1.0, 1.0, -1.0]],
            array![0.0, 0.0],
        )
        .unwrap()
        .build()
        .unwrap();
    let grid: Vec<f64> = (-3..=3)
        .flat_map(|i| (-3..=3).flat_map(move |j| [f64::from(i), f64::from(j)]))
        .collect();
    let x = Array2::from_shape_vec((49, 2), grid).unwrap();
    let dirs = array![[1.0, 0.0], [0.0, 1.0]];
    // Ties by construction: the vertex (1, 0) of the point (0, 0) lies on
    // the first unit's hyperplane x_1 = 1, the vertex (1, 1) of the point
    // (1, 0) on the fourth's, x_1 = x_2, and so on across the grid.
    let counted = counted_layers(&net);
    let folded = vertices::FoldedMlp::<f64>::new(&net, dirs.view(), 1.0).unwrap();
    let linear = hood::LinearHood::<f64>::new(&net, dirs.view(), 1.0).unwrap();
    let want = folded.count_changes(x.view(), &counted, true);
    assert_eq!(linear.count_changes(x.view(), &counted, true), want);
    assert!(want.iter().any(|&c| c > 0), "some units change sign");
}
