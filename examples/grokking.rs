//! Local complexity over training, the experiment of "Deep Networks Always
//! Grok and Here is Why" (Humayun, Balestriero, Baraniuk, ICML 2024) scaled
//! down to the embedded 8x8 digits.
//!
//! Run with `cargo run --release --example grokking [-- OPTIONS]`; with
//! `--features plot` it also draws `target/grokking.png`. It writes
//! `target/grokking.csv` (one row per evaluation) and takes about two minutes
//! on two cores with the defaults.
//!
//! # Settings
//!
//! As in the papers' MNIST experiment, with 64-pixel digits instead of
//! 784-pixel MNIST: 1000 training images, an MLP 64-200-200-200-10 with ReLU
//! (depth 4 in linear layers), MSE loss on one-hot targets, AdamW with
//! learning rate 1e-3, batch 200, every initial parameter multiplied by 8.
//! Local complexity (LC) is the reference's: radius r = 0.005, P = 25
//! directions drawn as the reference MNIST script draws them (seed 0),
//! hidden layers and output layer counted, averaged over 200 training, 200
//! test and 200 uniformly random points of `[0, 1]^64`.
//!
//! One change: the papers train for 1e5 steps with weight decay 0.01. At
//! about 60 steps a second on two cores that would take half an hour, and
//! grokking at initialisation scale 8 waits for weight decay to shrink the
//! weights (AdamW multiplies them by `1 - lr * wd` each step: with wd = 0.01
//! the weight norm needs some 1e5 steps to come down). The default here is
//! wd = 0.3, which compresses that timeline by 30 so that it fits in a
//! default run of 6000 steps; `--weight-decay 0.01 --steps 100000` runs the
//! papers' schedule.
//!
//! Options: `--steps N` (6000), `--eval-every K` (200), `--width W` (200),
//! `--depth D` (4), `--init-scale S` (8), `--weight-decay WD` (0.3),
//! `--lr LR` (1e-3), `--train-points N` (1000), `--radius R` (0.005),
//! `--lc-points N` (200), `--backend cpu|cuda` (cpu; cuda needs the `cuda`
//! feature and a GPU).
//!
//! The three probe sets are prepared once (`lc::prepare_points`) and their
//! LC is taken at every evaluation with `lc::local_complexity_prepared`: on
//! the CUDA backend the points stay in device memory for the whole run,
//! and only each checkpoint's weights travel.
//!
//! # What to expect
//!
//! The papers describe three phases of mean LC: a first descent, an ascent
//! while regions accumulate around the training data (memorisation), and a
//! second descent as regions migrate away from the data towards the
//! decision boundary, during which test accuracy catches up (grokking).
//!
//! What this example showed with the defaults (seed 0, about 95 s on two
//! cores):
//!
//! - Memorisation, steps 0-2000: train accuracy leads test accuracy (0.83
//!   against 0.51 at step 2000) while mean LC at training points rises from
//!   1.45 to about 2.2 and stays well above LC at test points (about 1.6):
//!   regions accumulate around the training data (the papers' ascent).
//! - Generalisation, steps 2000-3600: test accuracy catches up (0.51 to
//!   0.94; 0.974 at the end) and LC at training points descends to the level
//!   of test points (about 1.6): the second descent, with grokking.
//! - Once the training loss nears zero (from step 4000) LC rises again at
//!   training and test points alike (about 2.0 and 1.8 at step 6000). LC at
//!   random points stays near 1.3 throughout.
//!
//! The papers' first descent does not show at this evaluation interval, and
//! the delay between memorisation and generalisation is far shorter than in
//! the papers' 1e5-step MNIST runs, because of the larger weight decay. Each
//! curve is a mean over 200 points and wobbles by about 0.2 from one
//! evaluation to the next.
mod common;

use std::io::Write as _;
use std::time::Instant;

use common::{one_hot, output_path, Activation, Adam, Loss, Mlp, Rng, Split, TrainOptions};
use cpwl::backend::PreparedPoints;
use cpwl::lc::{local_complexity_prepared, prepare_points, Directions, LcOptions};
use cpwl::run::RunOptions;
use ndarray::{s, Array2, ArrayView2};

/// The run's settings (see the module docs for the options).
struct Settings {
    steps: usize,
    eval_every: usize,
    width: usize,
    depth: usize,
    init_scale: f64,
    weight_decay: f64,
    lr: f64,
    train_points: usize,
    radius: f64,
    lc_points: usize,
    backend: String,
}

impl Settings {
    fn from_args() -> Result<Settings, String> {
        let mut st = Settings {
            steps: 6000,
            eval_every: 200,
            width: 200,
            depth: 4,
            init_scale: 8.0,
            weight_decay: 0.3,
            lr: 1e-3,
            train_points: 1000,
            radius: 0.005,
            lc_points: 200,
            backend: "cpu".into(),
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        for pair in args.chunks(2) {
            let [name, value] = pair else {
                return Err(format!("option {} needs a value", pair[0]));
            };
            let bad = |e: &dyn std::fmt::Display| format!("{name} {value}: {e}");
            match name.as_str() {
                "--steps" => st.steps = value.parse().map_err(|e| bad(&e))?,
                "--eval-every" => st.eval_every = value.parse().map_err(|e| bad(&e))?,
                "--width" => st.width = value.parse().map_err(|e| bad(&e))?,
                "--depth" => st.depth = value.parse().map_err(|e| bad(&e))?,
                "--init-scale" => st.init_scale = value.parse().map_err(|e| bad(&e))?,
                "--weight-decay" => st.weight_decay = value.parse().map_err(|e| bad(&e))?,
                "--lr" => st.lr = value.parse().map_err(|e| bad(&e))?,
                "--train-points" => st.train_points = value.parse().map_err(|e| bad(&e))?,
                "--radius" => st.radius = value.parse().map_err(|e| bad(&e))?,
                "--lc-points" => st.lc_points = value.parse().map_err(|e| bad(&e))?,
                "--backend" => st.backend = value.clone(),
                _ => return Err(format!("unknown option {name}")),
            }
        }
        if st.depth < 2 || st.eval_every == 0 || st.lc_points == 0 {
            return Err("need --depth >= 2, --eval-every >= 1 and --lc-points >= 1".into());
        }
        Ok(st)
    }

    fn layer_sizes(&self) -> Vec<usize> {
        let mut sizes = vec![64];
        sizes.extend(std::iter::repeat_n(self.width, self.depth - 1));
        sizes.push(10);
        sizes
    }
}

/// One evaluation during training.
#[derive(Clone, Copy, Debug)]
struct Record {
    step: usize,
    seconds: f64,
    train_loss: f64,
    train_acc: f64,
    test_acc: f64,
    lc_train: f64,
    lc_test: f64,
    lc_random: f64,
    weight_norm: f64,
}

const CSV_HEADER: &str = "step,seconds,train_loss,train_acc,test_acc,lc_train,lc_test,lc_random,weight_norm";

impl Record {
    fn csv(&self) -> String {
        format!(
            "{},{:.2},{:.6e},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}",
            self.step,
            self.seconds,
            self.train_loss,
            self.train_acc,
            self.test_acc,
            self.lc_train,
            self.lc_test,
            self.lc_random,
            self.weight_norm
        )
    }
}

/// The run options of LC on the chosen backend.
fn run_options(backend: &str) -> Result<RunOptions, Box<dyn std::error::Error>> {
    match backend {
        "cpu" => Ok(RunOptions::default()),
        #[cfg(feature = "cuda")]
        "cuda" => {
            let gpu = cpwl::backend::CudaBackend::new(0)?;
            println!("LC on {}", gpu.card());
            Ok(RunOptions::default().with_backend(std::sync::Arc::new(gpu)))
        }
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err("--backend cuda needs the `cuda` feature".into()),
        other => Err(format!("unknown backend {other} (cpu or cuda)").into()),
    }
}

/// The point sets whose mean LC is tracked, prepared once on the backend.
struct Probes {
    train: PreparedPoints,
    test: PreparedPoints,
    random: PreparedPoints,
    opts: LcOptions,
}

impl Probes {
    fn new(split: &Split, st: &Settings, rng: &mut Rng) -> Result<Probes, Box<dyn std::error::Error>> {
        let n = st.lc_points;
        let opts = LcOptions {
            run: run_options(&st.backend)?,
            ..LcOptions::new(st.radius, Directions::ReferenceCompatible { count: 25, seed: 0 })
        };
        let prepare = |x: ArrayView2<f64>| prepare_points(x.slice(s![..n.min(x.nrows()), ..]), &opts.run);
        let random = Array2::from_shape_simple_fn((n, 64), || rng.uniform());
        Ok(Probes {
            train: prepare(split.train_x.view())?,
            test: prepare(split.test_x.view())?,
            random: prepare(random.view())?,
            opts,
        })
    }

    fn mean_lc(&self, mlp: &Mlp) -> cpwl::Result<[f64; 3]> {
        let net = mlp.to_network()?;
        let mean =
            |points: &PreparedPoints| local_complexity_prepared(&net, points, &self.opts).map(|r| r.mean());
        Ok([mean(&self.train)?, mean(&self.test)?, mean(&self.random)?])
    }
}

fn mse(mlp: &Mlp, x: ArrayView2<f64>, targets: ArrayView2<f64>) -> f64 {
    let diff = mlp.forward(x) - targets;
    diff.mapv(|d| d * d).mean().unwrap_or(f64::NAN)
}

fn weight_norm(mlp: &Mlp) -> f64 {
    let squares = |a: &[f64]| a.iter().map(|v| v * v).sum::<f64>();
    let w: f64 = mlp.weights.iter().filter_map(|w| w.as_slice().map(squares)).sum();
    let b: f64 = mlp.biases.iter().filter_map(|b| b.as_slice().map(squares)).sum();
    (w + b).sqrt()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let st = Settings::from_args()?;
    let split = Split::digits().truncate_train(st.train_points);
    let mut rng = Rng::new(0);
    let mut mlp = Mlp::new(&st.layer_sizes(), Activation::Relu, st.init_scale, &mut rng);
    let probes = Probes::new(&split, &st, &mut rng)?;
    let targets = one_hot(&split.train_y, 10);
    let opts = TrainOptions {
        loss: Loss::Mse,
        batch: 200,
        lr: st.lr,
        weight_decay: st.weight_decay,
        seed: 0,
    };
    let mut adam = Adam::new(&mlp, split.train_y.len(), opts);
    println!(
        "MLP {:?} ({} parameters, init x{}), {} training digits, AdamW lr {} wd {}, {} steps",
        st.layer_sizes(),
        mlp.parameter_count(),
        st.init_scale,
        split.train_y.len(),
        st.lr,
        st.weight_decay,
        st.steps
    );
    println!("  step   time  train MSE  train acc  test acc   LC train  LC test  LC random  |params|");
    let csv_path = output_path("grokking.csv")?;
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    writeln!(csv, "{CSV_HEADER}")?;
    let start = Instant::now();
    let mut records = Vec::new();
    for step in 0..=st.steps {
        if step % st.eval_every == 0 || step == st.steps {
            let [lc_train, lc_test, lc_random] = probes.mean_lc(&mlp)?;
            let r = Record {
                step,
                seconds: start.elapsed().as_secs_f64(),
                train_loss: mse(&mlp, split.train_x.view(), targets.view()),
                train_acc: mlp.accuracy(split.train_x.view(), &split.train_y),
                test_acc: mlp.accuracy(split.test_x.view(), &split.test_y),
                lc_train,
                lc_test,
                lc_random,
                weight_norm: weight_norm(&mlp),
            };
            println!(
                "{:6} {:5.0}s  {:9.2e}  {:9.3}  {:8.3}  {:9.3}  {:7.3}  {:9.3}  {:8.1}",
                r.step,
                r.seconds,
                r.train_loss,
                r.train_acc,
                r.test_acc,
                r.lc_train,
                r.lc_test,
                r.lc_random,
                r.weight_norm
            );
            writeln!(csv, "{}", r.csv())?;
            csv.flush()?;
            records.push(r);
        }
        if step < st.steps {
            adam.step(&mut mlp, split.train_x.view(), targets.view());
        }
    }
    println!("wrote {}", csv_path.display());
    draw(&records)?;
    Ok(())
}

#[cfg(not(feature = "plot"))]
fn draw(_records: &[Record]) -> Result<(), Box<dyn std::error::Error>> {
    println!("(build with --features plot to draw target/grokking.png)");
    Ok(())
}

#[cfg(feature = "plot")]
fn draw(records: &[Record]) -> Result<(), Box<dyn std::error::Error>> {
    let path = output_path("grokking.png")?;
    plot::draw(records, &path)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The PNG: accuracy on top, mean LC below, both against the step.
#[cfg(feature = "plot")]
mod plot {
    use std::path::Path;

    use plotters::prelude::*;

    use super::Record;

    /// Registers a TrueType font for the labels: the file named by
    /// `CPWL_PLOT_FONT`, else DejaVu Sans where the system has it. Without
    /// one, the charts are drawn without text.
    fn register_font() -> bool {
        let candidates = std::env::var("CPWL_PLOT_FONT")
            .ok()
            .into_iter()
            .chain(["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".to_string()]);
        for path in candidates {
            if let Ok(bytes) = std::fs::read(&path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    }

    type Series<'a> = (&'a str, RGBColor, fn(&Record) -> f64);

    pub fn draw(records: &[Record], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let labelled = register_font();
        let root = BitMapBackend::new(path, (900, 800)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(400);
        let accuracy: [Series; 2] = [
            ("train accuracy", BLUE, |r| r.train_acc),
            ("test accuracy", RED, |r| r.test_acc),
        ];
        let lc: [Series; 3] = [
            ("LC train", BLUE, |r| r.lc_train),
            ("LC test", RED, |r| r.lc_test),
            ("LC random", GREEN, |r| r.lc_random),
        ];
        panel(&top, records, &accuracy, "accuracy", labelled)?;
        panel(&bottom, records, &lc, "mean local complexity", labelled)?;
        root.present()?;
        Ok(())
    }

    fn panel<DB: DrawingBackend>(
        area: &DrawingArea<DB, plotters::coord::Shift>,
        records: &[Record],
        series: &[Series],
        title: &str,
        labelled: bool,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        DB::ErrorType: 'static,
    {
        let last_step = records.last().map_or(1, |r| r.step.max(1)) as f64;
        let top = records
            .iter()
            .flat_map(|r| series.iter().map(move |s| (s.2)(r)))
            .fold(0.0f64, f64::max)
            .max(1e-9)
            * 1.05;
        let mut builder = ChartBuilder::on(area);
        builder.margin(15).x_label_area_size(35).y_label_area_size(50);
        if labelled {
            builder.caption(title, ("sans-serif", 20));
        }
        let mut chart = builder.build_cartesian_2d(0.0..last_step, 0.0..top)?;
        let mut mesh = chart.configure_mesh();
        if labelled {
            mesh.x_desc("step").x_label_formatter(&|x| format!("{x:.0}"));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        for &(name, colour, value) in series {
            let line = chart.draw_series(LineSeries::new(
                records.iter().map(|r| (r.step as f64, value(r))),
                colour.stroke_width(2),
            ))?;
            if labelled {
                line.label(name)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
            }
        }
        if labelled {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
        Ok(())
    }
}
