//! A tour of cpwl on embedded data: train a small digit classifier, slice its
//! input space through three test digits, enumerate the exact linear regions
//! of the slice, draw them, and measure local complexity and the latent
//! exploration score (LES) of a small decoder.
//!
//! Run with `cargo run --release --example tour`; it writes
//! `target/tour_slice.svg` and takes a few seconds.
mod common;

use std::time::Instant;

use common::toy::{train_decoder, ToyLanguage};
use common::{one_hot, output_path, Activation, Adam, Loss, Mlp, Rng, Split, TrainOptions};
use cpwl::lc::{local_complexity, Directions, LcOptions};
use cpwl::plot::{class_cells, render_svg, MarkedPoint, PlotOptions, Rgb};
use cpwl::regions::{enumerate, EnumOptions, Partition};
use cpwl::scales::{les, OutputShape};
use cpwl::{Domain, Network, Plane, Window};
use ndarray::{array, Array2, ArrayView2, Axis};

/// The papers' neighbourhood: radius 0.005 around each point, P = 25
/// directions drawn as the reference MNIST script draws them (seed 0).
const LC_RADIUS: f64 = 0.005;
const LC_DIRECTIONS: usize = 25;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let split = Split::digits();
    let classifier = train_classifier(&split);
    let net = classifier.to_network()?;
    println!(
        "classifier 64-64-64-10 (ReLU): train accuracy {:.3}, test accuracy {:.3}, {} hidden units",
        classifier.accuracy(split.train_x.view(), &split.train_y),
        classifier.accuracy(split.test_x.view(), &split.test_y),
        net.unit_count()
    );
    show_local_map(&net, &split)?;
    slice_through_digits(&net, &split)?;
    local_complexity_report(&net, &split)?;
    decoder_scores()?;
    Ok(())
}

/// A 64-64-64-10 ReLU network trained by Adam on cross-entropy.
fn train_classifier(split: &Split) -> Mlp {
    let start = Instant::now();
    let mut rng = Rng::new(1);
    let mut mlp = Mlp::new(&[64, 64, 64, 10], Activation::Relu, 1.0, &mut rng);
    let targets = one_hot(&split.train_y, 10);
    let opts = TrainOptions {
        loss: Loss::CrossEntropy,
        batch: 64,
        lr: 3e-3,
        ..Default::default()
    };
    let mut adam = Adam::new(&mlp, split.train_y.len(), opts);
    for _ in 0..2000 {
        adam.step(&mut mlp, split.train_x.view(), targets.view());
    }
    println!(
        "trained {} parameters in {:.1?}",
        mlp.parameter_count(),
        start.elapsed()
    );
    mlp
}

/// The activation pattern and exact affine map of one test digit.
fn show_local_map(net: &Network, split: &Split) -> cpwl::Result<()> {
    let x = split.test_x.row(0);
    let pattern = net.pattern(x)?;
    let map = net.local_affine(x)?;
    let logits = net.forward(x)?;
    let gap = (&map.apply(x)? - &logits)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let active = pattern.iter().filter(|&u| u == 1).count();
    println!(
        "test digit 0 (label {}): {active} of {} units active; its region's map A x + b (A is {}x{}) reproduces the logits to {gap:.1e}",
        split.test_y[0],
        pattern.len(),
        map.a.nrows(),
        map.a.ncols()
    );
    Ok(())
}

/// The first test digits of three different classes.
fn three_digits(split: &Split) -> [usize; 3] {
    let mut chosen: Vec<usize> = Vec::new();
    for (i, &y) in split.test_y.iter().enumerate() {
        if chosen.len() < 3 && chosen.iter().all(|&j| split.test_y[j] != y) {
            chosen.push(i);
        }
    }
    [chosen[0], chosen[1], chosen[2]]
}

/// The triangle of the three anchors, enlarged by `factor` around its centroid.
fn enlarged_triangle(anchors: [[f64; 2]; 3], factor: f64) -> Vec<[f64; 2]> {
    let centroid = [0, 1].map(|k| anchors.iter().map(|a| a[k]).sum::<f64>() / 3.0);
    anchors
        .iter()
        .map(|a| [0, 1].map(|k| centroid[k] + factor * (a[k] - centroid[k])))
        .collect()
}

/// Enumerates the regions of the plane through three test digits and draws them.
fn slice_through_digits(net: &Network, split: &Split) -> Result<(), Box<dyn std::error::Error>> {
    let picks = three_digits(split);
    let [x0, x1, x2] = picks.map(|i| split.test_x.row(i));
    let plane = Plane::through(x0, x1, x2)?;
    let anchors = plane.anchors();
    let domain = Domain::plane(plane, Window::Polygon(enlarged_triangle(anchors, 1.25)));
    let start = Instant::now();
    let partition = enumerate(net, &domain, &EnumOptions::default())?;
    println!(
        "\nslice through test digits {picks:?} (labels {:?}), triangle window enlarged 1.25x:",
        picks.map(|i| split.test_y[i])
    );
    print_partition_stats(&partition, domain.volume().unwrap_or(f64::NAN), start.elapsed())?;
    let path = output_path("tour_slice.svg")?;
    let points = anchors
        .iter()
        .zip(picks)
        .map(|(&at, i)| MarkedPoint {
            at,
            label: format!("test {i} (digit {})", split.test_y[i]),
            color: Rgb(255, 255, 255),
        })
        .collect();
    let opts = PlotOptions {
        title: Some("Linear regions of the slice through three test digits".into()),
        class_names: (0..10).map(|d| format!("digit {d}")).collect(),
        points,
        ..PlotOptions::default()
    };
    render_svg(&partition, &path, &opts)?;
    println!("  wrote {}", path.display());
    Ok(())
}

fn print_partition_stats(
    partition: &Partition,
    window_area: f64,
    elapsed: std::time::Duration,
) -> cpwl::Result<()> {
    let stats = partition.stats();
    let mut areas: Vec<f64> = partition.regions().iter().map(|r| r.volume()).collect();
    areas.sort_by(f64::total_cmp);
    let mut per_class = [0.0f64; 10];
    for cell in class_cells(partition)? {
        per_class[cell.class] += cell.polygon.area() / window_area;
    }
    println!(
        "  {} regions in {elapsed:.2?} ({} LPs solved, {} skipped, {} thin cells rejected)",
        partition.len(),
        stats.lps_solved,
        stats.lps_skipped,
        partition.rejected_thin()
    );
    if let (Some(first), Some(last)) = (areas.first(), areas.last()) {
        println!(
            "  areas: min {first:.2e}, median {:.2e}, max {last:.2e}; sum {:.6} of the window's {window_area:.6}",
            areas[areas.len() / 2],
            partition.total_volume()
        );
    }
    println!("  adjacency graph: {} edges", partition.adjacency().len());
    println!("  share of the window per predicted class (exact arg-max cells): {per_class:.3?}");
    Ok(())
}

/// Mean local complexity on training, test and uniformly random points, at
/// the papers' radius and at ten times it.
fn local_complexity_report(net: &Network, split: &Split) -> cpwl::Result<()> {
    let mut rng = Rng::new(2);
    let random = Array2::from_shape_simple_fn((500, net.input_dim()), || rng.uniform());
    let sets: [(&str, ArrayView2<f64>); 3] = [
        ("train", split.train_x.view()),
        ("test", split.test_x.view()),
        ("random", random.view()),
    ];
    let directions = Directions::ReferenceCompatible {
        count: LC_DIRECTIONS.min(net.input_dim()),
        seed: 0,
    };
    println!(
        "\nlocal complexity (P = {LC_DIRECTIONS} reference directions, hidden layers + output counted):"
    );
    println!("  radius  points  mean LC   mean per layer          time");
    for radius in [LC_RADIUS, 10.0 * LC_RADIUS] {
        let opts = LcOptions::new(radius, directions.clone());
        for (name, points) in sets {
            let start = Instant::now();
            let report = local_complexity(net, points, &opts)?;
            let per_layer = report
                .per_layer()
                .mapv(f64::from)
                .mean_axis(Axis(0))
                .unwrap_or_default();
            println!(
                "  {radius:<6}  {name:6} {:8.3}   {:<22}  {:.0?} ({} points)",
                report.mean(),
                format!("{per_layer:.3}"),
                start.elapsed(),
                points.nrows()
            );
        }
    }
    Ok(())
}

/// LES of a small decoder trained on the toy language of `common::toy`.
fn decoder_scores() -> cpwl::Result<()> {
    let (seq_len, vocab) = (3, 5);
    let mut rng = Rng::new(3);
    let lang = ToyLanguage::new(seq_len, vocab, 4, &mut rng);
    let (mlp, z_train) = train_decoder(&lang, &[32], 2000, 1500, &mut rng);
    let decoder = mlp.to_network()?;
    let shape = OutputShape::Categorical { seq_len, vocab };
    let z = array![
        [0.0, 0.0, 0.0, 0.0],
        [z_train[[0, 0]], z_train[[0, 1]], z_train[[0, 2]], z_train[[0, 3]]],
        [z_train[[1, 0]], z_train[[1, 1]], z_train[[1, 2]], z_train[[1, 3]]],
        [1.0, -0.5, 0.3, 0.8],
        [3.0, -1.5, 0.9, 2.4],
        [10.0, -5.0, 3.0, 8.0],
    ];
    let scores = les(&decoder, z.view(), shape)?;
    println!("\nLES of a 4-32-15 decoder (L = {seq_len} positions, V = {vocab} symbols) trained on a toy language:");
    println!("  latent z                         |z|     LES  decodes to");
    for (zi, s) in z.outer_iter().zip(&scores) {
        let sentence = lang.decode(decoder.forward(zi)?.view());
        println!(
            "  {:<30} {:5.2} {s:7.2}  {} ({})",
            format!("{:.2}", zi),
            zi.dot(&zi).sqrt(),
            lang.spell(&sentence),
            if lang.is_grammatical(&sentence) {
                "grammatical"
            } else {
                "ungrammatical"
            }
        );
    }
    println!("  (LES is high where the decoder is confident, low where its output is ambiguous; far out");
    println!("  the softmax saturates and J^T J becomes numerically singular: LES = inf)");
    Ok(())
}
