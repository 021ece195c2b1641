//! Trains a small ReLU classifier on the 8x8 digits data set, then draws the
//! partition of the 2-D slice through three test digits, with the decision
//! boundary, to `target/slice.png` and `target/slice.svg`.
//!
//! Run with `cargo run --release --example slice_picture --features plot`.

use cpwl::plot::{render_png, render_svg, Fill, MarkedPoint, PlotOptions, Rgb};
use cpwl::regions::{enumerate, EnumOptions};
use cpwl::{Domain, Network, Plane, Window};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const HIDDEN: [usize; 2] = [32, 32];
const EPOCHS: usize = 40;
const BATCH: usize = 16;
const LEARNING_RATE: f64 = 0.05;
const TRAIN: usize = 1500;

/// The digits: images scaled to [0, 1] (one per row) and their labels.
fn digits() -> (Array2<f64>, Vec<usize>) {
    let data = smartcore::dataset::digits::load_dataset();
    let x = Array2::from_shape_fn((data.num_samples, data.num_features), |(i, j)| {
        f64::from(data.data[i * data.num_features + j]) / 16.0
    });
    let y = data.target.iter().map(|&t| t as usize).collect();
    (x, y)
}

/// A dense layer `w x + b` with He-normal weights.
struct Dense {
    w: Array2<f64>,
    b: Array1<f64>,
}

impl Dense {
    fn new(rng: &mut StdRng, inputs: usize, outputs: usize) -> Dense {
        let std = (2.0 / inputs as f64).sqrt();
        let w = Array2::from_shape_simple_fn((outputs, inputs), || std * normal(rng));
        Dense {
            w,
            b: Array1::zeros(outputs),
        }
    }
}

fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random_range(1e-12..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// One step of plain SGD on the softmax cross-entropy of a batch (rows of `x`).
fn sgd_step(layers: &mut [Dense], x: Array2<f64>, labels: &[usize]) {
    // Forward, keeping every layer's input.
    let mut inputs = vec![x];
    for (k, layer) in layers.iter().enumerate() {
        let mut z = inputs[k].dot(&layer.w.t()) + &layer.b;
        if k + 1 < layers.len() {
            z.mapv_inplace(|v| v.max(0.0));
        }
        inputs.push(z);
    }
    let logits = inputs.pop().expect("the output layer");
    // Gradient of the mean cross-entropy with respect to the logits.
    let mut grad = logits;
    for (mut row, &label) in grad.outer_iter_mut().zip(labels) {
        let top = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - top).exp());
        let total = row.sum();
        row /= total;
        row[label] -= 1.0;
    }
    grad /= labels.len() as f64;
    for k in (0..layers.len()).rev() {
        let input = &inputs[k];
        let next = grad.dot(&layers[k].w);
        layers[k].w -= &(grad.t().dot(input) * LEARNING_RATE);
        layers[k].b -= &(grad.sum_axis(Axis(0)) * LEARNING_RATE);
        // Through the ReLU that produced this layer's input.
        grad = next * &input.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
    }
}

fn train(x: &Array2<f64>, y: &[usize], rng: &mut StdRng) -> Network {
    let mut widths = vec![x.ncols()];
    widths.extend(HIDDEN);
    widths.push(10);
    let mut layers: Vec<Dense> = widths.windows(2).map(|w| Dense::new(rng, w[0], w[1])).collect();
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    for _ in 0..EPOCHS {
        order.shuffle(rng);
        for chunk in order.chunks(BATCH) {
            let labels: Vec<usize> = chunk.iter().map(|&i| y[i]).collect();
            sgd_step(&mut layers, x.select(Axis(0), chunk), &labels);
        }
    }
    let mut builder = Network::builder(x.ncols());
    for (k, layer) in layers.into_iter().enumerate() {
        builder = builder.dense(layer.w, layer.b).expect("shapes chain");
        if k < HIDDEN.len() {
            builder = builder.relu();
        }
    }
    builder.build().expect("a valid network")
}

fn predict(net: &Network, x: ArrayView1<f64>) -> usize {
    let out = net.forward(x).expect("finite input");
    (0..out.len()).fold(0, |best, i| if out[i] > out[best] { i } else { best })
}

fn main() -> cpwl::Result<()> {
    let (x, y) = digits();
    let mut rng = StdRng::seed_from_u64(0);
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    order.shuffle(&mut rng);
    let (train_idx, test_idx) = order.split_at(TRAIN);
    let train_y: Vec<usize> = train_idx.iter().map(|&i| y[i]).collect();
    let net = train(&x.select(Axis(0), train_idx), &train_y, &mut rng);
    let correct = test_idx
        .iter()
        .filter(|&&i| predict(&net, x.row(i)) == y[i])
        .count();
    println!(
        "test accuracy: {:.1} % ({correct} of {})",
        100.0 * correct as f64 / test_idx.len() as f64,
        test_idx.len()
    );

    // Three test digits of different classes, each predicted correctly.
    let mut picked: Vec<usize> = Vec::new();
    for &wanted in &[0usize, 3, 7] {
        let i = *test_idx
            .iter()
            .find(|&&i| y[i] == wanted && predict(&net, x.row(i)) == wanted)
            .expect("a correctly classified test digit");
        picked.push(i);
    }
    let plane = Plane::through(x.row(picked[0]), x.row(picked[1]), x.row(picked[2]))?;
    let anchors = plane.anchors();
    // A square around the triangle of the three digits, with a margin.
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for a in anchors {
        for k in 0..2 {
            lo[k] = lo[k].min(a[k]);
            hi[k] = hi[k].max(a[k]);
        }
    }
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let half = 0.75 * (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let window = Window::Polygon(vec![
        [centre[0] - half, centre[1] - half],
        [centre[0] + half, centre[1] - half],
        [centre[0] + half, centre[1] + half],
        [centre[0] - half, centre[1] + half],
    ]);
    let partition = enumerate(&net, &Domain::plane(plane, window), &EnumOptions::default())?;
    let boundary = partition.decision_boundary()?;
    println!(
        "{} regions, decision boundary length {:.3}, in {:?}",
        partition.len(),
        boundary.total_measure().unwrap_or(0.0),
        partition.stats().elapsed
    );

    let points = picked
        .iter()
        .zip(anchors)
        .map(|(&i, at)| MarkedPoint {
            at,
            label: format!("digit {}", y[i]),
            color: Rgb(255, 255, 255),
        })
        .collect();
    let opts = PlotOptions {
        size: (900, 900),
        fill: Fill::Class,
        points,
        title: Some("Slice through three test digits: regions by predicted class".into()),
        class_names: (0..10).map(|d| format!("digit {d}")).collect(),
        ..PlotOptions::default()
    };
    std::fs::create_dir_all("target").map_err(|e| cpwl::Error::File {
        path: "target".into(),
        reason: "cannot create the output folder".into(),
        source: Some(Box::new(e)),
    })?;
    render_png(&partition, "target/slice.png", &opts)?;
    render_svg(&partition, "target/slice.svg", &opts)?;
    println!("wrote target/slice.png and target/slice.svg");
    Ok(())
}
