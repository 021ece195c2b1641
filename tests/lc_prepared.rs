//! Local complexity of a prepared (resident) point set: the counts of the
//! shared LC vectors (computed by the reference PyTorch script), the same
//! report as `local_complexity` at every checkpoint of a changing network,
//! stops, bad input, a backend written here that keeps its own copy of the
//! points, and the CUDA backend's device-resident sets when a GPU answers
//! (skipped, with a message, otherwise).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{cases, json, load2, SplitMix as Rng};
use cpwl::backend::{Backend, CpuBackend, ForwardBatch, JacobianBatch, Keep, Neighbourhood, PreparedPoints};
use cpwl::lc::{local_complexity, local_complexity_prepared, prepare_points, Directions, LcOptions};
use cpwl::network::Conv2d;
use cpwl::run::{Outcome, RunOptions};
use cpwl::{Error, Network, Result};
use ndarray::{array, s, Array1, Array2, Array4, ArrayView1, ArrayView2};

/// A ReLU MLP `widths`, its weights drawn from `seed` and scaled by `scale`
/// (a stand-in for the checkpoints of one training run).
fn mlp(widths: &[usize], seed: u64, scale: f64) -> Network {
    let mut rng = Rng(seed);
    let mut b = Network::builder(widths[0]);
    for (k, pair) in widths.windows(2).enumerate() {
        let w = rng.matrix(pair[1], pair[0]) * (scale / (pair[0] as f64).sqrt());
        let bias = Array1::from_shape_simple_fn(pair[1], || 0.1 * rng.next());
        b = b.dense(w, bias).unwrap();
        if k + 2 < widths.len() {
            b = b.relu();
        }
    }
    b.build().unwrap()
}

/// A maxout network (arg-max changes are counted).
fn maxout(seed: u64) -> Network {
    let mut rng = Rng(seed);
    Network::builder(4)
        .dense(rng.matrix(12, 4), Array1::zeros(12))
        .unwrap()
        .maxout(3)
        .dense(rng.matrix(2, 4), Array1::zeros(2))
        .unwrap()
        .build()
        .unwrap()
}

/// A convolution in front (no dense first layer to fold).
fn conv(seed: u64) -> Network {
    let mut rng = Rng(seed);
    let weight = Array4::from_shape_simple_fn((2, 1, 3, 3), || rng.next());
    let b = Network::builder_image(1, 4, 4)
        .conv2d(Conv2d::new(weight, None))
        .unwrap()
        .relu()
        .flatten();
    let width = b.shape().len();
    b.dense(rng.matrix(3, width), Array1::zeros(3))
        .unwrap()
        .build()
        .unwrap()
}

fn options(radius: f64, dim: usize, run: RunOptions) -> LcOptions {
    LcOptions {
        run,
        ..LcOptions::new(
            radius,
            Directions::Seeded {
                count: dim.min(5),
                seed: 11,
            },
        )
    }
}

#[test]
fn prepared_counts_are_the_reference_counts_of_the_vectors() {
    for dir in cases("lc") {
        let meta = json(&dir.join("expected.json"));
        let net = Network::from_npz(dir.join("net.npz")).unwrap();
        let points = load2(&dir.join("points.npy"));
        let directions = load2(&dir.join("directions.npy"));
        let radius = meta["radius"].as_f64().unwrap();
        let mut opts = LcOptions::new(radius, Directions::Given(directions));
        let prepared = prepare_points(points.view(), &opts.run).unwrap();
        for (key, counted) in [("with_output_layer", true), ("hidden_only", false)] {
            opts.count_output_layer = counted;
            let report = local_complexity_prepared(&net, &prepared, &opts).unwrap();
            let want: Vec<Vec<u32>> = serde_json::from_value(meta[key]["per_layer"].clone()).unwrap();
            let got: Vec<Vec<u32>> = report.per_layer().outer_iter().map(|r| r.to_vec()).collect();
            assert_eq!(got, want, "{} ({key})", dir.display());
        }
    }
}

#[test]
fn one_prepared_set_serves_every_checkpoint_with_the_plain_report() {
    let points = Rng(5).matrix(40, 6);
    for threads in [Some(1), Some(3)] {
        for chunk in [Some(1), Some(7), None] {
            let run = RunOptions {
                threads,
                chunk,
                ..Default::default()
            };
            let opts = options(0.2, 6, run);
            let prepared = prepare_points(points.view(), &opts.run).unwrap();
            for (step, scale) in [1.0, 2.5, 0.4].into_iter().enumerate() {
                let net = mlp(&[6, 16, 16, 3], 21, scale);
                let want = local_complexity(&net, points.view(), &opts).unwrap();
                let got = local_complexity_prepared(&net, &prepared, &opts).unwrap();
                assert_eq!(
                    got, want,
                    "checkpoint {step}, threads {threads:?}, chunk {chunk:?}"
                );
                assert!(
                    want.total().iter().any(|&t| t > 0),
                    "the radius crosses some units"
                );
            }
        }
    }
}

#[test]
fn maxout_and_convolution_networks_match_the_plain_report() {
    let nets = [maxout(3), conv(4)];
    for net in nets {
        let points = Rng(8).matrix(25, net.input_dim());
        let opts = options(0.3, net.input_dim(), RunOptions::default());
        let prepared = prepare_points(points.view(), &opts.run).unwrap();
        let got = local_complexity_prepared(&net, &prepared, &opts).unwrap();
        assert_eq!(got, local_complexity(&net, points.view(), &opts).unwrap());
    }
}

#[test]
fn stops_and_empty_sets_are_reported_as_by_the_plain_route() {
    let net = mlp(&[3, 8, 2], 2, 1.0);
    let points = Rng(1).matrix(10, 3);
    let stopped = options(
        0.1,
        3,
        RunOptions {
            time_budget: Some(Duration::ZERO),
            ..Default::default()
        },
    );
    let prepared = prepare_points(points.view(), &stopped.run).unwrap();
    let report = local_complexity_prepared(&net, &prepared, &stopped).unwrap();
    assert_eq!((report.finished(), report.outcome()), (0, Outcome::TimeBudget));
    assert_eq!(report, local_complexity(&net, points.view(), &stopped).unwrap());

    let opts = options(0.1, 3, RunOptions::default());
    let empty = prepare_points(points.slice(s![..0, ..]), &opts.run).unwrap();
    assert!(empty.is_empty());
    let report = local_complexity_prepared(&net, &empty, &opts).unwrap();
    assert_eq!(report.per_layer().dim(), (0, 2));
    assert!(report.outcome().is_complete());
}

#[test]
fn bad_points_and_options_are_typed_errors() {
    let run = RunOptions::default();
    let mut points = Rng(2).matrix(4, 3);
    points[[2, 1]] = f64::NAN;
    match prepare_points(points.view(), &run) {
        Err(Error::NonFinite { what, index }) => {
            assert!(what.contains("row 2"), "{what}");
            assert_eq!(index, 1);
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let prepared = prepare_points(Rng(2).matrix(4, 3).view(), &run).unwrap();
    let wider = mlp(&[5, 4, 1], 0, 1.0);
    assert!(matches!(
        local_complexity_prepared(&wider, &prepared, &options(0.1, 5, run.clone())),
        Err(Error::Shape { .. })
    ));
    let net = mlp(&[3, 4, 1], 0, 1.0);
    assert!(matches!(
        local_complexity_prepared(&net, &prepared, &options(-1.0, 3, run.clone())),
        Err(Error::Invalid { .. })
    ));
    let zero_threads = RunOptions {
        threads: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        prepare_points(Rng(2).matrix(4, 3).view(), &zero_threads),
        Err(Error::Invalid { .. })
    ));
    // The trait method itself guards the range.
    let hood_dirs = array![[1.0, 0.0, 0.0]];
    let hood = Neighbourhood {
        directions: hood_dirs.view(),
        radius: 0.1,
        count_output: true,
    };
    assert!(matches!(
        CpuBackend::default().sign_changes_prepared(&net, &prepared, 2..9, hood),
        Err(Error::Shape { .. })
    ));
}

/// A backend written against the public API that keeps its own copy of a
/// prepared set in a layout of its own (the points negated, undone when
/// read) and counts which route each call took: the counters, not the
/// counts, show that the resident copy was read.
struct Keeper {
    inner: CpuBackend,
    prepared: AtomicUsize,
    resident_calls: AtomicUsize,
    host_calls: AtomicUsize,
}

/// `Keeper`'s resident data.
struct Negated(Array2<f64>);

impl Keeper {
    fn new() -> Keeper {
        Keeper {
            inner: CpuBackend::serial(),
            prepared: AtomicUsize::new(0),
            resident_calls: AtomicUsize::new(0),
            host_calls: AtomicUsize::new(0),
        }
    }
}

impl Backend for Keeper {
    fn name(&self) -> &str {
        "keeper"
    }
    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        self.inner.forward(net, x, keep)
    }
    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        self.inner.jacobians(net, x)
    }
    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.host_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.sign_changes(net, points, hood)
    }
    fn prepare_points(&self, points: Array2<f64>) -> Result<PreparedPoints> {
        self.prepared.fetch_add(1, Ordering::SeqCst);
        let negated = Negated(-&points);
        Ok(PreparedPoints::with_resident(points, Box::new(negated)))
    }
    fn sign_changes_prepared(
        &self,
        net: &Network,
        prepared: &PreparedPoints,
        rows: std::ops::Range<usize>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        match prepared.resident().and_then(|r| r.downcast_ref::<Negated>()) {
            Some(Negated(kept)) => {
                self.resident_calls.fetch_add(1, Ordering::SeqCst);
                let points = -&kept.slice(s![rows, ..]);
                self.inner.sign_changes(net, points.view(), hood)
            }
            None => self.sign_changes(net, prepared.rows(rows)?, hood),
        }
    }
    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        self.inner.affine_values(a, c, points)
    }
}

#[test]
fn a_third_party_backend_reads_its_own_resident_copy() {
    let keeper = Arc::new(Keeper::new());
    let run = RunOptions {
        backend: Some(keeper.clone()),
        threads: Some(1),
        chunk: Some(4),
        ..Default::default()
    };
    let opts = options(0.25, 5, run);
    let points = Rng(9).matrix(10, 5) + 0.3;
    let prepared = prepare_points(points.view(), &opts.run).unwrap();
    assert!(prepared.resident().is_some());
    let plain = options(0.25, 5, RunOptions::default());
    for scale in [1.0, 3.0] {
        let net = mlp(&[5, 12, 12, 2], 7, scale);
        let got = local_complexity_prepared(&net, &prepared, &opts).unwrap();
        assert_eq!(got, local_complexity(&net, points.view(), &plain).unwrap());
    }
    // One preparation, three waves (4 + 4 + 2 points) per checkpoint, all
    // read from the resident copy.
    assert_eq!(keeper.prepared.load(Ordering::SeqCst), 1);
    assert_eq!(keeper.resident_calls.load(Ordering::SeqCst), 6);
    assert_eq!(keeper.host_calls.load(Ordering::SeqCst), 0);
    // A set prepared elsewhere is answered from its host points.
    let foreign = prepare_points(points.view(), &RunOptions::default()).unwrap();
    let net = mlp(&[5, 12, 12, 2], 7, 1.0);
    let got = local_complexity_prepared(&net, &foreign, &opts).unwrap();
    assert_eq!(got, local_complexity(&net, points.view(), &plain).unwrap());
    assert_eq!(keeper.host_calls.load(Ordering::SeqCst), 3);
}

/// The CUDA backend with resident sets against the CPU backend's plain
/// report, at several checkpoints, chunk budgets and network kinds
/// (a convolution runs on the CPU fallback from the host copy).
#[cfg(feature = "cuda")]
#[test]
fn cuda_resident_sets_give_the_cpu_counts() {
    let gpu = match cpwl::backend::CudaBackend::new(0) {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!("skipping: CUDA resident LC ({e})");
            return;
        }
    };
    eprintln!("CUDA resident LC on {}", gpu.card());
    for budget in [cpwl::backend::CudaBackend::DEFAULT_CHUNK_BYTES, 64 * 1024] {
        let run = RunOptions {
            backend: Some(Arc::new(gpu.clone().with_chunk_bytes(budget))),
            ..Default::default()
        };
        let nets = [
            mlp(&[6, 16, 16, 3], 21, 1.0),
            mlp(&[6, 16, 16, 3], 21, 2.5),
            mlp(&[6, 32, 3], 22, 1.0),
        ];
        let points = Rng(5).matrix(300, 6);
        let opts = options(0.2, 6, run);
        let plain = options(0.2, 6, RunOptions::default());
        let prepared = prepare_points(points.view(), &opts.run).unwrap();
        assert!(prepared.resident().is_some());
        for (k, net) in nets.iter().enumerate() {
            let got = local_complexity_prepared(net, &prepared, &opts).unwrap();
            assert_eq!(
                got,
                local_complexity(net, points.view(), &plain).unwrap(),
                "net {k}"
            );
        }
        for net in [maxout(3), conv(4)] {
            let points = Rng(8).matrix(50, net.input_dim());
            let opts = options(0.3, net.input_dim(), opts.run.clone());
            let plain = options(0.3, net.input_dim(), RunOptions::default());
            let prepared = prepare_points(points.view(), &opts.run).unwrap();
            let got = local_complexity_prepared(&net, &prepared, &opts).unwrap();
            assert_eq!(got, local_complexity(&net, points.view(), &plain).unwrap());
        }
    }
    // A set prepared on the CPU, evaluated on the GPU (uploaded per call).
    let points = Rng(6).matrix(30, 6);
    let net = mlp(&[6, 16, 3], 1, 1.0);
    let host_set = prepare_points(points.view(), &RunOptions::default()).unwrap();
    let opts = options(
        0.2,
        6,
        RunOptions {
            backend: Some(Arc::new(gpu)),
            ..Default::default()
        },
    );
    let got = local_complexity_prepared(&net, &host_set, &opts).unwrap();
    let plain = options(0.2, 6, RunOptions::default());
    assert_eq!(got, local_complexity(&net, points.view(), &plain).unwrap());
}

/// A network built from strided owned biases (`slice_move`) is stored
/// contiguous: the vertex kernels read biases as slices, and the counts equal
/// those of the same network built from contiguous biases.
#[test]
fn strided_biases_give_the_counts_of_contiguous_ones() {
    let mut rng = Rng(3);
    let (w1, w2) = (rng.matrix(8, 5), rng.matrix(2, 8));
    let b1 = Array1::from_shape_simple_fn(8, || rng.next());
    let reversed = Array1::from_iter(b1.iter().rev().copied()).slice_move(s![..;-1]);
    assert!(!reversed.is_standard_layout() && reversed == b1);
    // The strided bias sits on the second dense layer: the first is folded
    // into the vertices, the later ones go through the vertex kernels.
    let w0 = rng.matrix(5, 5);
    let build = |b: Array1<f64>| {
        Network::builder(5)
            .dense(w0.clone(), Array1::zeros(5))
            .unwrap()
            .relu()
            .dense(w1.clone(), b)
            .unwrap()
            .relu()
            .dense(w2.clone(), Array1::zeros(2))
            .unwrap()
            .build()
            .unwrap()
    };
    let points = rng.matrix(12, 5);
    let opts = options(0.3, 5, RunOptions::default());
    let want = local_complexity(&build(b1), points.view(), &opts).unwrap();
    let got = local_complexity(&build(reversed), points.view(), &opts).unwrap();
    assert_eq!(got, want);
    assert!(
        want.total().iter().any(|&t| t > 0),
        "the radius crosses some units"
    );
}
