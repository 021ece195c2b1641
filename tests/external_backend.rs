//! A backend written outside the crate, as a downstream author would: a
//! plain, serial ndarray interpreter of the public compiled program
//! ([`cpwl::network::Program`]), using nothing but the public API. It must
//! pass the conformance kit, and region enumeration, both local-complexity
//! variants and the LES score must give the CPU backend's answers on it.
//!
//! Built only with the `testing` feature (the kit), see `Cargo.toml`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cpwl::backend::{
    check_affine, check_neighbourhood, check_points, Backend, ForwardBatch, JacobianBatch, Keep,
    Neighbourhood,
};
use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::network::{
    AffineStep, AvgPooling, Convolution, MaxUnits, Nonlinearity, Shape, Step, TwoPiece, PADDING,
};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::run::RunOptions;
use cpwl::scales::{les_with, OutputShape, ScoreOptions};
use cpwl::testing::{check_backend, KitOptions};
use cpwl::{Domain, Network, Result};
use ndarray::{array, s, Array1, Array2, Array3, ArrayView1, ArrayView2, Axis};

/// The backend: one point at a time, one step at a time. It counts the
/// calls of each kernel so that the tests can see the library reach it.
#[derive(Default)]
struct Plain {
    forward_calls: AtomicUsize,
    jacobian_calls: AtomicUsize,
    sign_change_calls: AtomicUsize,
    affine_calls: AtomicUsize,
}

/// The state of one point between steps: column 0 holds the values, the
/// other columns (when Jacobians are asked for) their derivatives with
/// respect to the inputs.
type Column = Array2<f64>;

/// What one point's pass records: the pattern and the inputs of every
/// nonlinearity.
struct Trace {
    pattern: Vec<u8>,
    pre: Vec<Array1<f64>>,
}

/// `(channels, height, width)` of a shape; flat data is `n x 1 x 1`.
fn chw(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Flat(n) => (n, 1, 1),
        Shape::Image { c, h, w } => (c, h, w),
    }
}

/// The input pixel read at output pixel `(oy, ox)` through tap `(ky, kx)`,
/// `None` in the zero padding.
fn tap(
    at: [usize; 2],
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    hw: [usize; 2],
) -> Option<usize> {
    let y = (at[0] * stride[0] + k[0] * dil[0]).checked_sub(pad[0])?;
    let x = (at[1] * stride[1] + k[1] * dil[1]).checked_sub(pad[1])?;
    (y < hw[0] && x < hw[1]).then_some(y * hw[1] + x)
}

/// The linear part of a convolution on one column.
fn conv_linear(c: &Convolution, v: ArrayView1<f64>) -> Array1<f64> {
    let conv = c.conv();
    let (cin, h, w) = chw(c.input());
    let (cout, oh, ow) = chw(c.output());
    let (_, cin_g, kh, kw) = conv.weight.dim();
    let cout_g = cout / conv.groups;
    assert_eq!(cin_g * conv.groups, cin);
    let mut out = Array1::zeros(cout * oh * ow);
    for co in 0..cout {
        let g = co / cout_g;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0.0;
                for ci in 0..cin_g {
                    let channel = (g * cin_g + ci) * h * w;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let at = tap(
                                [oy, ox],
                                [ky, kx],
                                conv.stride,
                                conv.padding,
                                conv.dilation,
                                [h, w],
                            );
                            if let Some(i) = at {
                                sum += conv.weight[[co, ci, ky, kx]] * v[channel + i];
                            }
                        }
                    }
                }
                out[(co * oh + oy) * ow + ox] = sum;
            }
        }
    }
    out
}

/// Average pooling of one column (zero padding; the divisor is the whole
/// window or its non-padding part, as the pool says).
fn avg_pool(p: &AvgPooling, v: ArrayView1<f64>) -> Array1<f64> {
    let pool = p.pool();
    let (c, h, w) = chw(p.input());
    let (_, oh, ow) = chw(p.output());
    let [kh, kw] = pool.kernel;
    let mut out = Array1::zeros(c * oh * ow);
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let inside: Vec<usize> = (0..kh)
                    .flat_map(|ky| (0..kw).map(move |kx| [ky, kx]))
                    .filter_map(|k| tap([oy, ox], k, pool.stride, pool.padding, [1, 1], [h, w]))
                    .collect();
                let divisor = if pool.count_include_pad {
                    kh * kw
                } else {
                    inside.len().max(1)
                };
                let sum: f64 = inside.iter().map(|&i| v[ch * h * w + i]).sum();
                out[(ch * oh + oy) * ow + ox] = sum / divisor as f64;
            }
        }
    }
    out
}

/// An affine step on every column; the constant goes to the values only.
fn affine(step: &AffineStep, h: &Column) -> Column {
    let linear = |v: ArrayView1<f64>| -> Array1<f64> {
        match step {
            AffineStep::Dense(d) => d.w().dot(&v),
            AffineStep::Conv(c) => conv_linear(c, v),
            AffineStep::AvgPool(p) => avg_pool(p, v),
            AffineStep::ChannelAffine(a) => {
                Array1::from_iter(v.iter().enumerate().map(|(i, x)| a.scale()[i / a.spatial()] * x))
            }
            other => panic!("unknown affine step {other:?}"),
        }
    };
    let columns: Vec<Array1<f64>> = h.columns().into_iter().map(linear).collect();
    let views: Vec<ArrayView1<f64>> = columns.iter().map(|c| c.view()).collect();
    let mut out = ndarray::stack(Axis(1), &views).expect("columns of one length");
    let mut values = out.column_mut(0);
    match step {
        AffineStep::Dense(d) => values += &d.b(),
        AffineStep::Conv(c) => {
            if let Some(bias) = &c.conv().bias {
                let (_, oh, ow) = chw(c.output());
                values
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v += bias[i / (oh * ow)]);
            }
        }
        AffineStep::ChannelAffine(a) => {
            values
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v += a.shift()[i / a.spatial()]);
        }
        _ => {}
    }
    out
}

/// Two-piece units: each row scaled by the slope of its value's piece.
fn two_piece(units: &TwoPiece, mut h: Column, pattern: &mut Vec<u8>) -> Column {
    let slopes = units.slopes();
    for mut row in h.rows_mut() {
        let piece = u8::from(row[0] > 0.0);
        pattern.push(piece);
        row *= slopes[usize::from(piece)];
    }
    h
}

/// Max units: each unit takes the row of its window's first largest value.
fn max_units(units: &MaxUnits, h: &Column, pattern: &mut Vec<u8>) -> Column {
    let mut out = Array2::zeros((units.len(), h.ncols()));
    for j in 0..units.len() {
        let mut best: Option<(usize, u32)> = None;
        for (pos, &i) in units.window(j).iter().enumerate() {
            if i != PADDING && best.is_none_or(|(_, b)| h[[i as usize, 0]] > h[[b as usize, 0]]) {
                best = Some((pos, i));
            }
        }
        let (pos, i) = best.expect("a window has a candidate");
        pattern.push(u8::try_from(pos).expect("at most 255 candidates"));
        out.row_mut(j).assign(&h.row(i as usize));
    }
    out
}

/// Runs the program on one point's column(s).
fn run(net: &Network, mut h: Column) -> (Column, Trace) {
    let mut trace = Trace {
        pattern: Vec::with_capacity(net.unit_count()),
        pre: Vec::new(),
    };
    let mut saved = Vec::new();
    for step in net.program().steps() {
        h = match step {
            Step::Affine(a) => affine(a, &h),
            Step::Nonlinear(nl) => {
                trace.pre.push(h.column(0).to_owned());
                match nl {
                    Nonlinearity::TwoPiece(units) => two_piece(units, h, &mut trace.pattern),
                    Nonlinearity::Max(units) => max_units(units, &h, &mut trace.pattern),
                    other => panic!("unknown nonlinearity {other:?}"),
                }
            }
            Step::Fork { skip } => {
                saved.push(skip.as_ref().map_or_else(|| h.clone(), |p| affine(p, &h)));
                h
            }
            Step::Join => &h + &saved.pop().expect("forks and joins nest"),
            other => panic!("unknown step {other:?}"),
        };
    }
    (h, trace)
}

/// Three-valued sign.
fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// The number of entries where some vertex differs from the first one.
fn changes<T: PartialEq>(per_vertex: &[Vec<T>]) -> u32 {
    let first = &per_vertex[0];
    (0..first.len())
        .filter(|&u| per_vertex.iter().any(|v| v[u] != first[u]))
        .count() as u32
}

impl Backend for Plain {
    fn name(&self) -> &str {
        "plain"
    }

    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        check_points(net, x)?;
        self.forward_calls.fetch_add(1, Ordering::Relaxed);
        let layers = net.program().unit_layers();
        let mut outputs = Array2::zeros((x.nrows(), net.output_dim()));
        let mut patterns = Array2::zeros((x.nrows(), net.unit_count()));
        let mut pre: Vec<Array2<f64>> = layers.iter().map(|_| Array2::zeros((x.nrows(), 0))).collect();
        for (i, point) in x.outer_iter().enumerate() {
            let (out, trace) = run(net, point.to_owned().insert_axis(Axis(1)));
            outputs.row_mut(i).assign(&out.column(0));
            patterns.row_mut(i).assign(&Array1::from(trace.pattern));
            for (l, z) in trace.pre.into_iter().enumerate() {
                if pre[l].ncols() != z.len() {
                    pre[l] = Array2::zeros((x.nrows(), z.len()));
                }
                pre[l].row_mut(i).assign(&z);
            }
        }
        Ok(ForwardBatch {
            outputs,
            patterns: (keep != Keep::Outputs).then_some(patterns),
            pre_activations: (keep == Keep::PreActivations).then_some(pre),
        })
    }

    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        check_points(net, x)?;
        self.jacobian_calls.fetch_add(1, Ordering::Relaxed);
        let (n, d, m) = (x.nrows(), net.input_dim(), net.output_dim());
        let mut outputs = Array2::zeros((n, m));
        let mut patterns = Array2::zeros((n, net.unit_count()));
        let mut jacobians = Array3::zeros((n, m, d));
        for (i, point) in x.outer_iter().enumerate() {
            // Forward mode: the values, then the identity as their derivatives.
            let mut start = Array2::zeros((d, 1 + d));
            start.column_mut(0).assign(&point);
            start.slice_mut(s![.., 1..]).assign(&Array2::eye(d));
            let (out, trace) = run(net, start);
            outputs.row_mut(i).assign(&out.column(0));
            patterns.row_mut(i).assign(&Array1::from(trace.pattern));
            jacobians
                .index_axis_mut(Axis(0), i)
                .assign(&out.slice(s![.., 1..]));
        }
        Ok(JacobianBatch {
            outputs,
            patterns,
            jacobians,
        })
    }

    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        check_neighbourhood(net, points, &hood)?;
        self.sign_change_calls.fetch_add(1, Ordering::Relaxed);
        let program = net.program();
        let counted: Vec<_> = program.lc_layers().map(|(l, info)| (l, *info)).collect();
        let cols = counted.len() + usize::from(hood.count_output);
        let mut counts = Array2::zeros((points.nrows(), cols));
        for (i, x) in points.outer_iter().enumerate() {
            let vertices: Vec<Array1<f64>> = [1.0, -1.0]
                .iter()
                .flat_map(|side| {
                    hood.directions
                        .outer_iter()
                        .map(move |v| &x + &(&v * (side * hood.radius)))
                })
                .collect();
            let traces: Vec<(Column, Trace)> = vertices
                .into_iter()
                .map(|v| run(net, v.insert_axis(Axis(1))))
                .collect();
            for (slot, (l, info)) in counted.iter().enumerate() {
                counts[[i, slot]] = if matches!(program.nonlinearities().nth(*l), Some(Nonlinearity::Max(_)))
                {
                    let choices: Vec<Vec<u8>> = traces
                        .iter()
                        .map(|(_, t)| t.pattern[info.offset..info.offset + info.len].to_vec())
                        .collect();
                    changes(&choices)
                } else {
                    let signs: Vec<Vec<i8>> = traces
                        .iter()
                        .map(|(_, t)| t.pre[*l].iter().map(|&z| sign(z)).collect())
                        .collect();
                    changes(&signs)
                };
            }
            if hood.count_output {
                let signs: Vec<Vec<i8>> = traces
                    .iter()
                    .map(|(out, _)| out.column(0).iter().map(|&z| sign(z)).collect())
                    .collect();
                counts[[i, counted.len()]] = changes(&signs);
            }
        }
        Ok(counts)
    }

    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        check_affine(a, c, points)?;
        self.affine_calls.fetch_add(1, Ordering::Relaxed);
        Ok(Array2::from_shape_fn((points.nrows(), a.nrows()), |(p, k)| {
            a.row(k).dot(&points.row(p)) + c[k]
        }))
    }
}

/// Options that run on `backend` (the CPU backend when `None`), on one thread.
fn on(backend: Option<Arc<Plain>>) -> RunOptions {
    RunOptions {
        backend: backend.map(|b| b as Arc<dyn Backend>),
        threads: Some(1),
        ..Default::default()
    }
}

#[test]
fn the_plain_backend_passes_the_conformance_kit() {
    let opts = KitOptions {
        vectors: Some(common::vectors()),
        ..KitOptions::default()
    };
    let report = check_backend(&Plain::default(), &opts).unwrap();
    assert!(report.passed(), "{report}");
    assert!(report.checks.len() > 60, "{} checks", report.checks.len());
}

/// Every region's pattern, facet sources and neighbours' patterns, in order.
fn summary(p: &Partition) -> Vec<String> {
    p.regions()
        .iter()
        .map(|r| {
            let neighbours: Vec<String> = r
                .neighbors()
                .iter()
                .map(|&n| p.region(n).pattern().to_string())
                .collect();
            format!("{} {:?} {:?}", r.pattern(), r.sources(), neighbours)
        })
        .collect()
}

fn two_layer_relu(d: usize) -> Network {
    let w1 = Array2::from_shape_fn((6, d), |(i, j)| {
        ((i * 7 + j * 3) % 5) as f64 - 2.0 + 0.25 * j as f64
    });
    let b1 = Array1::from_shape_fn(6, |i| 0.3 * i as f64 - 0.7);
    let w2 = Array2::from_shape_fn((4, 6), |(i, j)| ((i * 5 + j) % 7) as f64 / 3.0 - 1.0);
    relu_6_4_1(d, (w1, b1), (w2, array![0.1, -0.2, 0.3, 0.0]))
}

/// A `d`-6-4-1 ReLU network of the given hidden layers, summing its last.
fn relu_6_4_1(d: usize, first: (Array2<f64>, Array1<f64>), second: (Array2<f64>, Array1<f64>)) -> Network {
    Network::builder(d)
        .dense(first.0, first.1)
        .unwrap()
        .relu()
        .dense(second.0, second.1)
        .unwrap()
        .relu()
        .dense(Array2::ones((1, 4)), array![0.0])
        .unwrap()
        .build()
        .unwrap()
}

/// A `d`-6-4-1 ReLU network with weights in general position (values of
/// a sine at incommensurate points).
fn generic_relu(d: usize) -> Network {
    let wave = |seed: usize, rows: usize, cols: usize| {
        Array2::from_shape_fn((rows, cols), |(i, j)| ((seed + i * cols + j) as f64 * 1.37).sin())
    };
    let bias = |seed: usize, n: usize| Array1::from_shape_fn(n, |i| 0.5 * ((seed + i) as f64 * 0.71).cos());
    relu_6_4_1(d, (wave(1, 6, d), bias(3, 6)), (wave(40, 4, 6), bias(50, 4)))
}

#[test]
fn enumerate_gives_the_same_regions_on_the_plain_backend() {
    for (d, method) in [
        (2, Method::PlaneSplit),
        (2, Method::Lp),
        (3, Method::Lp),
        (3, Method::Skeleton),
    ] {
        // The skeleton hands arrangements with vertices on hyperplanes (the
        // small-integer weights) to the walk: it gets weights in general position.
        let net = if method == Method::Skeleton {
            generic_relu(d)
        } else {
            two_layer_relu(d)
        };
        let domain = Domain::cube(d, -2.0, 2.0);
        let plain = Arc::new(Plain::default());
        let run = |backend| EnumOptions {
            method,
            run: on(backend),
            ..Default::default()
        };
        let reference = enumerate(&net, &domain, &run(None)).unwrap();
        let got = enumerate(&net, &domain, &run(Some(plain.clone()))).unwrap();
        assert!(reference.len() > 4, "{d}-D {method:?}: {}", reference.len());
        assert_eq!(summary(&got), summary(&reference), "{d}-D {method:?}");
        assert_eq!(got.layer_counts(), reference.layer_counts(), "{d}-D {method:?}");
        if method == Method::PlaneSplit {
            // The 2-D splitter runs its products in its own batched pass, not
            // through the backend (a known gap): a backend in the options
            // must leave its result unchanged, and is not called.
            assert_eq!(plain.forward_calls.load(Ordering::Relaxed), 0);
            assert_eq!(plain.affine_calls.load(Ordering::Relaxed), 0);
        }
        if method == Method::Lp {
            // The walk reads its seeds' and witnesses' patterns on the backend.
            assert!(
                plain.forward_calls.load(Ordering::Relaxed) > 0,
                "{d}-D {method:?}"
            );
        }
        if method == Method::Skeleton {
            // The skeleton ran (no fallback) and took every dense layer's
            // values at its vertices from the backend.
            assert_eq!(reference.stats().method, Method::Skeleton);
            assert_eq!(got.stats().method, Method::Skeleton);
            assert_eq!(plain.affine_calls.load(Ordering::Relaxed), 2);
        }
    }
}

#[test]
fn both_local_complexities_and_les_agree_with_the_cpu_backend() {
    let net = two_layer_relu(3);
    let points = Array2::from_shape_fn((9, 3), |(i, j)| (i as f64 * 0.37 + j as f64 * 0.71).sin() * 1.5);
    let plain = Arc::new(Plain::default());
    let lc = |backend| LcOptions {
        run: on(backend),
        ..LcOptions::new(0.4, Directions::Seeded { count: 3, seed: 7 })
    };
    let reference = local_complexity(&net, points.view(), &lc(None)).unwrap();
    let got = local_complexity(&net, points.view(), &lc(Some(plain.clone()))).unwrap();
    assert_eq!(got.per_layer(), reference.per_layer());
    assert!(reference.per_layer().sum() > 0);
    assert!(plain.sign_change_calls.load(Ordering::Relaxed) > 0);

    let reference = exact_local_complexity(&net, points.view(), &lc(None)).unwrap();
    let got = exact_local_complexity(&net, points.view(), &lc(Some(plain.clone()))).unwrap();
    assert_eq!(format!("{:?}", got.points()), format!("{:?}", reference.points()));

    // A decoder of 2 latents to 2 positions over 3 symbols.
    let decoder = Network::builder(2)
        .dense(
            array![[1.0, 0.5], [-0.5, 1.0], [0.25, -1.0], [2.0, 0.0]],
            array![0.0, 0.1, -0.1, 0.2],
        )
        .unwrap()
        .leaky_relu(0.1)
        .dense(
            Array2::from_shape_fn((6, 4), |(i, j)| ((i + 2 * j) % 5) as f64 / 2.0 - 1.0),
            Array1::zeros(6),
        )
        .unwrap()
        .build()
        .unwrap();
    let z = array![[0.3, -0.2], [1.0, 0.5], [-0.7, 0.9]];
    let shape = OutputShape::Categorical { seq_len: 2, vocab: 3 };
    let score = |backend| ScoreOptions {
        run: on(backend),
        ..Default::default()
    };
    let reference = les_with(&decoder, z.view(), shape, &score(None)).unwrap();
    let calls_before = plain.jacobian_calls.load(Ordering::Relaxed);
    let got = les_with(&decoder, z.view(), shape, &score(Some(plain.clone()))).unwrap();
    assert!(plain.jacobian_calls.load(Ordering::Relaxed) > calls_before);
    for (a, b) in got.values().iter().zip(reference.values()) {
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
    }
}
