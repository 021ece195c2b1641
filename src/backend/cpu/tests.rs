//! Tests of the CPU backend's plain-MLP routes against independent ones: the
//! reverse-mode Jacobians written into the caller's array against the
//! generic evaluator and the shared vectors, and the f32 route against f64
//! away from near-ties (the bound of [`crate::tol::F32_TIE_BOUND`]).

use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, Ix3};

use super::scratch::MlpLayer;
use super::*;
use crate::io::npy::read_npy;
use crate::lc::directions::SplitMix64;
use crate::test_support::{read_matrix, vectors_dir};
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
    let root = vectors_dir().join("forward");
    let mut seen = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
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
                let z = w.dot(&h) + b;
                last = Some((w.view(), b.view(), h.clone()));
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
        let tie = tie_margin(&net, x.row(i)) <= F32_TIE_BOUND;
        ties += usize::from(tie);
        assert!(a == b || tie, "point {i}: f32 pattern differs without a near-tie");
    }
    assert!(
        ties < x.nrows() / 10,
        "{ties} near-ties: the test would prove little"
    );
    // Values: f32 rounding of the f64 results.
    for (a, b) in f64_fwd.outputs.iter().zip(&f32_fwd.outputs) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
    }
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
    let mut dirs = rng.matrix(6, 16, 1.0);
    for mut row in dirs.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: 0.2,
        count_output: true,
    };
    let want = CpuBackend::default().sign_changes(&net, x.view(), hood).unwrap();
    let f32_cpu = CpuBackend::serial().with_precision(Precision::F32);
    let got = f32_cpu.sign_changes(&net, x.view(), hood).unwrap();
    assert!(want.sum() > 0, "the neighbourhoods cross some hyperplanes");
    let mut ties = 0;
    for (i, (a, b)) in want.outer_iter().zip(got.outer_iter()).enumerate() {
        let verts = neighbourhood_vertices(x.slice(s![i..i + 1, ..]), dirs.view(), hood.radius);
        let margin = verts
            .outer_iter()
            .map(|v| tie_margin(&net, v))
            .fold(f64::INFINITY, f64::min);
        let tie = margin <= F32_TIE_BOUND;
        ties += usize::from(tie);
        // The output layer has no two-piece units: compare it only where
        // its own values are far from zero in f64.
        let hidden = a.len() - 1;
        assert!(a.slice(s![..hidden]) == b.slice(s![..hidden]) || tie, "point {i}");
    }
    // Each point has 2P vertices x 48 units near the bound: a minority only.
    assert!(
        ties * 2 < x.nrows(),
        "{ties} near-ties: the test would prove little"
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
