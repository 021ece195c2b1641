//! Every backend against `CpuBackend::serial()` on the same inputs, for every
//! kernel family: identical patterns and integer counts, values within 1e-9
//! relative. Inputs are the shared vectors' networks (forward, lc, scales)
//! and seeded random networks (ReLU, leaky ReLU, abs, maxout, max pooling,
//! and a convolution and a residual block, which the CUDA backend hands to
//! the CPU). The CUDA backend joins when `CudaBackend::new(0)` finds a GPU;
//! otherwise it is skipped with a message.

mod common;

use std::path::Path;

use common::{assert_close, cases, json, json_array, lc_counts, load2, randn};
use cpwl::backend::{Backend, CpuBackend, Keep, Neighbourhood};
use cpwl::network::{AffineStep, Conv2d, Pool2d, Step};
use cpwl::Network;
use ndarray::{Array1, Array2, Array3, Array4, ArrayView2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const RTOL: f64 = 1e-9;

/// The backends under test: the CPU backend's default, serial and chunked
/// variants, then the CUDA backend (whole batches and tiny chunks) when a GPU
/// is present.
fn backends() -> Vec<Box<dyn Backend>> {
    let mut all: Vec<Box<dyn Backend>> = vec![
        Box::new(CpuBackend::default()),
        Box::new(CpuBackend::serial()),
        Box::new(CpuBackend::default().with_chunk(1)),
        Box::new(CpuBackend::default().with_chunk(7)),
        Box::new(CpuBackend::serial().with_chunk(64)),
    ];
    all.extend(cuda_backends());
    all
}

/// The CUDA backend twice (whole batches, and chunks of 64 KiB that force
/// the chunked paths), or nothing, with a skip message, without a GPU.
#[cfg(feature = "cuda")]
fn cuda_backends() -> Vec<Box<dyn Backend>> {
    match cpwl::backend::CudaBackend::new(0) {
        Ok(gpu) => {
            eprintln!("CUDA parity on {}", gpu.card());
            vec![Box::new(gpu.clone()), Box::new(gpu.with_chunk_bytes(64 * 1024))]
        }
        Err(e) => {
            eprintln!("skipping: CUDA parity ({e})");
            Vec::new()
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_backends() -> Vec<Box<dyn Backend>> {
    eprintln!("skipping: CUDA parity (built without the `cuda` feature)");
    Vec::new()
}

fn reference() -> CpuBackend {
    CpuBackend::serial()
}

/// `(label, backend)` pairs; labels carry the position, since the CPU
/// variants share a name.
fn labelled() -> Vec<(String, Box<dyn Backend>)> {
    backends()
        .into_iter()
        .enumerate()
        .map(|(i, b)| (format!("#{i} {}", b.name()), b))
        .collect()
}

// ---------- inputs ----------

fn randn_matrix(rng: &mut StdRng, r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((r, c), || randn(rng))
}

fn unit_directions(rng: &mut StdRng, p: usize, dim: usize) -> Array2<f64> {
    let mut d = randn_matrix(rng, p, dim);
    for mut row in d.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
    d
}

#[derive(Clone, Copy, Debug)]
enum Act {
    Relu,
    Leaky(f64),
    Abs,
    Maxout(usize),
}

/// A random MLP with the given widths and activation between dense layers.
fn mlp(seed: u64, widths: &[usize], act: Act) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = Network::builder(widths[0]);
    for (k, pair) in widths.windows(2).enumerate() {
        let last = k + 2 == widths.len();
        let out = match act {
            Act::Maxout(g) if !last => pair[1] * g,
            _ => pair[1],
        };
        let w = randn_matrix(&mut rng, out, pair[0]) / (pair[0] as f64).sqrt();
        let bias = Array1::from_shape_simple_fn(out, || 0.1 * randn(&mut rng));
        b = b.dense(w, bias).unwrap();
        if !last {
            b = match act {
                Act::Relu => b.relu(),
                Act::Leaky(a) => b.leaky_relu(a),
                Act::Abs => b.abs(),
                Act::Maxout(g) => b.maxout(g),
            };
        }
    }
    b.build().unwrap()
}

/// Max pooling on a 2 x 6 x 6 image input, then an MLP (all GPU-capable;
/// pooling is not counted by local complexity).
fn pooled(seed: u64) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let pool = Pool2d {
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
        count_include_pad: true,
    };
    let b = Network::builder_image(2, 6, 6)
        .max_pool2d(pool)
        .unwrap()
        .flatten();
    let width = b.shape().len();
    b.dense(randn_matrix(&mut rng, 9, width), Array1::zeros(9))
        .unwrap()
        .relu()
        .dense(randn_matrix(&mut rng, 3, 9), Array1::zeros(3))
        .unwrap()
        .build()
        .unwrap()
}

/// A convolution and a residual block: the CUDA backend's CPU fallback.
fn conv_residual(seed: u64) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let weight = Array4::from_shape_simple_fn((3, 1, 3, 3), || randn(&mut rng) / 3.0);
    let conv = Conv2d::new(
        weight,
        Some(Array1::from_shape_simple_fn(3, || 0.1 * randn(&mut rng))),
    );
    let b = Network::builder_image(1, 5, 5)
        .conv2d(conv)
        .unwrap()
        .relu()
        .flatten();
    let width = b.shape().len();
    let w1 = randn_matrix(&mut rng, 8, width) / (width as f64).sqrt();
    let w2 = randn_matrix(&mut rng, 8, 8) / 8f64.sqrt();
    let w3 = randn_matrix(&mut rng, 2, 8);
    b.dense(w1, Array1::zeros(8))
        .unwrap()
        .residual(|r| r.dense(w2, Array1::zeros(8)).map(|r| r.leaky_relu(0.2)))
        .unwrap()
        .dense(w3, Array1::zeros(2))
        .unwrap()
        .build()
        .unwrap()
}

struct Case {
    name: String,
    net: Network,
    points: Array2<f64>,
    directions: Array2<f64>,
    radius: f64,
}

fn random_case(name: &str, net: Network, n: usize, seed: u64) -> Case {
    let mut rng = StdRng::seed_from_u64(seed);
    let d = net.input_dim();
    Case {
        name: name.to_string(),
        points: randn_matrix(&mut rng, n, d),
        directions: unit_directions(&mut rng, 5, d),
        radius: 0.2,
        net,
    }
}

fn vector_case(dir: &Path, points_file: &str, seed: u64) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let net = Network::from_npz(dir.join("net.npz")).unwrap();
    let points = load2(&dir.join(points_file));
    let mut rng = StdRng::seed_from_u64(seed);
    let (directions, radius) = if dir.join("directions.npy").exists() {
        let radius = json(&dir.join("expected.json"))["radius"].as_f64().unwrap();
        (load2(&dir.join("directions.npy")), radius)
    } else {
        (unit_directions(&mut rng, 4, net.input_dim()), 0.1)
    };
    Case {
        name,
        net,
        points,
        directions,
        radius,
    }
}

/// A random MLP case: (name, network seed, widths, activation, points, point seed).
type MlpCase = (&'static str, u64, &'static [usize], Act, usize, u64);

fn all_cases() -> Vec<Case> {
    let mut out = Vec::new();
    // (vector family, points file, direction seed)
    for (family, points, seed) in [
        ("forward", "points.npy", 1),
        ("lc", "points.npy", 2),
        ("scales", "z.npy", 3),
    ] {
        for dir in cases(family) {
            out.push(vector_case(&dir, points, seed));
        }
    }
    let mlps: [MlpCase; 6] = [
        ("relu 6-32-32-3", 10, &[6, 32, 32, 3], Act::Relu, 41, 11),
        ("leaky 5-17-9-4", 12, &[5, 17, 9, 4], Act::Leaky(0.05), 23, 13),
        ("abs 4-12-12-2", 14, &[4, 12, 12, 2], Act::Abs, 19, 15),
        ("maxout 7-10-6-3", 16, &[7, 10, 6, 3], Act::Maxout(3), 29, 17),
        // More outputs than inputs: the CUDA backend's forward-mode Jacobians.
        ("maxout 2-8-6-5", 22, &[2, 8, 6, 5], Act::Maxout(2), 17, 23),
        ("abs 3-9-9-6", 24, &[3, 9, 9, 6], Act::Abs, 15, 25),
    ];
    for (name, seed, widths, act, n, point_seed) in mlps {
        out.push(random_case(name, mlp(seed, widths, act), n, point_seed));
    }
    out.push(random_case("max pool", pooled(18), 13, 19));
    out.push(random_case("conv + residual", conv_residual(20), 11, 21));
    out
}

// ---------- comparisons ----------

fn close2(what: &str, got: ArrayView2<f64>, want: ArrayView2<f64>) {
    assert_eq!(got.dim(), want.dim(), "{what}: shapes");
    let (g, w): (Vec<f64>, Vec<f64>) = (got.iter().copied().collect(), want.iter().copied().collect());
    assert_close(what, &g, &w, RTOL);
}

fn close3(what: &str, got: &Array3<f64>, want: &Array3<f64>) {
    assert_eq!(got.dim(), want.dim(), "{what}: shapes");
    assert_close(what, got.as_slice().unwrap(), want.as_slice().unwrap(), RTOL);
}

#[test]
fn forward_agrees_across_backends() {
    let cases = all_cases();
    let reference = reference();
    for (label, backend) in labelled() {
        for case in &cases {
            let what = format!("{label} forward {}", case.name);
            let want = reference
                .forward(&case.net, case.points.view(), Keep::PreActivations)
                .unwrap();
            let got = backend
                .forward(&case.net, case.points.view(), Keep::PreActivations)
                .unwrap();
            close2(
                &format!("{what} outputs"),
                got.outputs.view(),
                want.outputs.view(),
            );
            assert_eq!(got.patterns, want.patterns, "{what} patterns");
            let (gp, wp) = (got.pre_activations.unwrap(), want.pre_activations.unwrap());
            assert_eq!(gp.len(), wp.len(), "{what} pre-activation layers");
            for (l, (g, w)) in gp.iter().zip(&wp).enumerate() {
                close2(&format!("{what} pre-activations {l}"), g.view(), w.view());
            }
            let outputs_only = backend
                .forward(&case.net, case.points.view(), Keep::Outputs)
                .unwrap();
            assert!(outputs_only.patterns.is_none() && outputs_only.pre_activations.is_none());
            close2(
                &format!("{what} outputs only"),
                outputs_only.outputs.view(),
                want.outputs.view(),
            );
            let patterns = backend
                .forward(&case.net, case.points.view(), Keep::Patterns)
                .unwrap();
            assert_eq!(patterns.patterns, want.patterns, "{what} Keep::Patterns");
            assert!(patterns.pre_activations.is_none());
        }
    }
}

#[test]
fn jacobians_agree_across_backends() {
    let cases = all_cases();
    let reference = reference();
    for (label, backend) in labelled() {
        for case in &cases {
            let what = format!("{label} jacobians {}", case.name);
            let want = reference.jacobians(&case.net, case.points.view()).unwrap();
            let got = backend.jacobians(&case.net, case.points.view()).unwrap();
            close2(
                &format!("{what} outputs"),
                got.outputs.view(),
                want.outputs.view(),
            );
            assert_eq!(got.patterns, want.patterns, "{what} patterns");
            close3(&what, &got.jacobians, &want.jacobians);
        }
    }
}

#[test]
fn reference_jacobians_match_the_shared_vectors() {
    // The reference itself, against independently computed local maps.
    for dir in cases("forward") {
        let case = vector_case(&dir, "points.npy", 0);
        let want = common::load3(&dir.join("jacobians.npy"));
        let got = reference().jacobians(&case.net, case.points.view()).unwrap();
        close3(
            &format!("{} jacobians vs vectors", case.name),
            &got.jacobians,
            &want,
        );
    }
}

#[test]
fn sign_changes_agree_across_backends() {
    let cases = all_cases();
    let reference = reference();
    for (label, backend) in labelled() {
        for case in &cases {
            for count_output in [false, true] {
                let hood = Neighbourhood {
                    directions: case.directions.view(),
                    radius: case.radius,
                    count_output,
                };
                let want = reference
                    .sign_changes(&case.net, case.points.view(), hood)
                    .unwrap();
                let got = backend.sign_changes(&case.net, case.points.view(), hood).unwrap();
                assert_eq!(
                    got, want,
                    "{label} sign changes {} (output {count_output})",
                    case.name
                );
            }
        }
    }
}

#[test]
fn reference_sign_changes_match_the_lc_vectors() {
    for dir in cases("lc") {
        let case = vector_case(&dir, "points.npy", 0);
        let expected = json(&dir.join("expected.json"));
        for (key, count_output) in [("with_output_layer", true), ("hidden_only", false)] {
            let hood = Neighbourhood {
                directions: case.directions.view(),
                radius: case.radius,
                count_output,
            };
            let got = reference()
                .sign_changes(&case.net, case.points.view(), hood)
                .unwrap();
            let got: Vec<Vec<u32>> = got.outer_iter().map(|r| r.to_vec()).collect();
            assert_eq!(got, lc_counts(&expected[key]), "{} {key}", case.name);
        }
    }
}

/// The scales vectors: each decoder with its latent points, its output
/// shape (seq_len, vocab) and the expected LES per point (`inf` where the
/// vector stores a non-number).
fn scales_cases() -> Vec<(Case, usize, usize, Vec<f64>)> {
    cases("scales")
        .into_iter()
        .map(|dir| {
            let expected = json(&dir.join("expected.json"));
            let shape = |key: &str| expected[key].as_u64().unwrap() as usize;
            let les = json_array(&expected["scores"]["les"], |x| {
                Some(x.as_f64().unwrap_or(f64::INFINITY))
            });
            (
                vector_case(&dir, "z.npy", 0),
                shape("seq_len"),
                shape("vocab"),
                les,
            )
        })
        .collect()
}

#[test]
fn batches_beyond_the_staging_threshold_agree_across_backends() {
    // The CUDA backend copies f64 batches of 2^21 elements or more through
    // pinned staging pieces of 2^20: these sizes take that path, with a
    // partial last piece, both ways.
    let net = mlp(41, &[784, 64, 10], Act::Relu);
    let mut rng = StdRng::seed_from_u64(42);
    let points = randn_matrix(&mut rng, 2_700, 784);
    let reference = reference();
    let want = reference.forward(&net, points.view(), Keep::Patterns).unwrap();
    let few = points.slice(ndarray::s![..300, ..]);
    let want_jac = reference.jacobians(&net, few).unwrap();
    for (label, backend) in labelled() {
        let got = backend.forward(&net, points.view(), Keep::Patterns).unwrap();
        close2(
            &format!("{label} large forward"),
            got.outputs.view(),
            want.outputs.view(),
        );
        assert_eq!(got.patterns, want.patterns, "{label} large forward patterns");
        let got = backend.jacobians(&net, few).unwrap();
        close3(
            &format!("{label} large jacobians"),
            &got.jacobians,
            &want_jac.jacobians,
        );
    }
}

/// `log det g` of a symmetric positive definite matrix by a plain Cholesky
/// factorisation (None when it is not positive definite).
fn log_det_spd(g: ArrayView2<f64>) -> Option<f64> {
    let n = g.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    let mut log_det = 0.0;
    for j in 0..n {
        let diag = g[[j, j]] - (0..j).map(|k| l[[j, k]] * l[[j, k]]).sum::<f64>();
        if diag <= 0.0 {
            return None;
        }
        l[[j, j]] = diag.sqrt();
        log_det += 2.0 * l[[j, j]].ln();
        for i in j + 1..n {
            l[[i, j]] = (g[[i, j]] - (0..j).map(|k| l[[i, k]] * l[[j, k]]).sum::<f64>()) / l[[j, j]];
        }
    }
    Some(log_det)
}

#[test]
fn les_grams_agree_across_backends_and_give_the_vectors_les() {
    let reference = reference();
    let mut inputs = Vec::new();
    for (case, l, v, les) in scales_cases() {
        let batch = reference.les_grams(&case.net, case.points.view(), l, v).unwrap();
        for (i, want) in les.iter().enumerate().filter(|(_, w)| w.is_finite()) {
            let got = -0.5 * log_det_spd(batch.grams.index_axis(ndarray::Axis(0), i)).unwrap();
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{}: LES of point {i}: {got} vs {want}",
                case.name
            );
        }
        inputs.push((case.name, case.net, case.points, l, v));
    }
    let net = mlp(31, &[5, 24, 24, 12], Act::Relu);
    let mut rng = StdRng::seed_from_u64(32);
    inputs.push(("random decoder".into(), net, randn_matrix(&mut rng, 40, 5), 3, 4));
    for (label, backend) in labelled() {
        for (name, net, z, l, v) in &inputs {
            let want = reference.les_grams(net, z.view(), *l, *v).unwrap();
            let got = backend.les_grams(net, z.view(), *l, *v).unwrap();
            close2(
                &format!("{label} LES logits {name}"),
                got.outputs.view(),
                want.outputs.view(),
            );
            close3(&format!("{label} LES grams {name}"), &got.grams, &want.grams);
        }
    }
}

#[test]
fn affine_values_agree_across_backends() {
    let reference = reference();
    let mut rng = StdRng::seed_from_u64(5);
    // Small integers: every product and sum is exact, so the reference must
    // give the closed form bit for bit.
    let (k, dim, n) = (9, 4, 37);
    let a = Array2::from_shape_simple_fn((k, dim), || f64::from(rng.random_range(-3i32..=3)));
    let c = Array1::from_shape_simple_fn(k, || f64::from(rng.random_range(-4i32..=4)));
    let points = Array2::from_shape_simple_fn((n, dim), || f64::from(rng.random_range(-2i32..=2)));
    let want = reference
        .affine_values(a.view(), c.view(), points.view())
        .unwrap();
    for i in 0..n {
        for j in 0..k {
            assert_eq!(want[[i, j]], a.row(j).dot(&points.row(i)) + c[j]);
        }
    }
    let random_a = randn_matrix(&mut rng, 13, 6);
    let random_c = Array1::from_shape_simple_fn(13, || randn(&mut rng));
    let random_points = randn_matrix(&mut rng, 50, 6);
    let mut inputs = vec![
        (a, c, points),
        (random_a.clone(), random_c.clone(), random_points),
        (random_a, random_c, Array2::zeros((0, 6))),
    ];
    // Every case's first layer, where it is dense, at the case's points.
    for case in all_cases() {
        if let Some(Step::Affine(AffineStep::Dense(d))) = case.net.program().steps().first() {
            inputs.push((d.w().to_owned(), d.b().to_owned(), case.points.clone()));
        }
    }
    assert!(inputs.len() > 5, "some cases start with a dense layer");
    for (label, backend) in labelled() {
        for (i, (a, c, p)) in inputs.iter().enumerate() {
            let want = reference.affine_values(a.view(), c.view(), p.view()).unwrap();
            let got = backend.affine_values(a.view(), c.view(), p.view()).unwrap();
            close2(
                &format!("{label} affine values, input {i}"),
                got.view(),
                want.view(),
            );
        }
    }
}

/// The CPU backend's affine map is its forward pass through that one dense
/// layer, bit for bit, at every chunk size (the skeleton's vertices depend
/// on it).
#[test]
fn cpu_affine_values_are_a_dense_layers_forward_pass() {
    let mut rng = StdRng::seed_from_u64(11);
    let (a, c) = (
        randn_matrix(&mut rng, 17, 5),
        Array1::from_shape_simple_fn(17, || randn(&mut rng)),
    );
    let points = randn_matrix(&mut rng, 300, 5);
    let layer = Network::builder(5)
        .dense(a.clone(), c.clone())
        .unwrap()
        .build()
        .unwrap();
    for cpu in [
        CpuBackend::default(),
        CpuBackend::serial(),
        CpuBackend::default().with_chunk(7),
        CpuBackend::default().with_precision(cpwl::backend::Precision::F32),
    ] {
        let got = cpu.affine_values(a.view(), c.view(), points.view()).unwrap();
        let f64_cpu = cpu.with_precision(cpwl::backend::Precision::F64);
        let want = layer.forward_batch_on(&f64_cpu, points.view()).unwrap();
        assert_eq!(got, want);
    }
}

#[test]
fn empty_batches_and_bad_shapes_behave_alike() {
    let net = mlp(1, &[3, 5, 2], Act::Relu);
    let empty = Array2::<f64>::zeros((0, 3));
    let wrong = Array2::<f64>::zeros((2, 4));
    let dirs = Array2::<f64>::eye(3);
    let bad_dirs = Array2::<f64>::eye(4);
    for (label, backend) in labelled() {
        let f = backend.forward(&net, empty.view(), Keep::PreActivations).unwrap();
        assert_eq!(f.outputs.dim(), (0, 2), "{label}");
        assert_eq!(f.patterns.unwrap().dim(), (0, 5), "{label}");
        let j = backend.jacobians(&net, empty.view()).unwrap();
        assert_eq!(j.jacobians.dim(), (0, 2, 3), "{label}");
        let hood = Neighbourhood {
            directions: dirs.view(),
            radius: 0.1,
            count_output: true,
        };
        assert_eq!(
            backend.sign_changes(&net, empty.view(), hood).unwrap().dim(),
            (0, 2)
        );
        assert!(matches!(
            backend.forward(&net, wrong.view(), Keep::Outputs),
            Err(cpwl::Error::Shape { .. })
        ));
        assert!(matches!(
            backend.jacobians(&net, wrong.view()),
            Err(cpwl::Error::Shape { .. })
        ));
        let bad = Neighbourhood {
            directions: bad_dirs.view(),
            ..hood
        };
        assert!(matches!(
            backend.sign_changes(&net, Array2::zeros((1, 3)).view(), bad),
            Err(cpwl::Error::Shape { .. })
        ));
        assert!(matches!(
            backend.affine_values(
                Array2::zeros((2, 3)).view(),
                Array1::zeros(3).view(),
                wrong.view(),
            ),
            Err(cpwl::Error::Shape { .. })
        ));
    }
    // Values are checked once, at the entry points, which name the row.
    let mut nan = Array2::<f64>::zeros((2, 3));
    nan[[1, 1]] = f64::NAN;
    for (label, backend) in labelled() {
        match net.forward_batch_on(backend.as_ref(), nan.view()) {
            Err(cpwl::Error::NonFinite { what, index: 1 }) => {
                assert!(what.ends_with("row 1"), "{label}: {what}")
            }
            other => panic!("{label}: {other:?}"),
        }
    }
}

/// The conformance kit on every backend under test (the CUDA backend when a
/// GPU is present), on random networks of every layer kind and the vectors.
#[cfg(feature = "testing")]
#[test]
fn every_backend_passes_the_conformance_kit() {
    let opts = cpwl::testing::KitOptions {
        vectors: Some(common::vectors()),
        ..Default::default()
    };
    for (label, backend) in labelled() {
        let report = cpwl::testing::check_backend(backend.as_ref(), &opts).unwrap();
        assert!(report.passed(), "{label}: {report}");
    }
}
