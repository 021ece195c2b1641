//! The cpwl side of the peer benchmarks in `benches/peers/` (see its README):
//! runs one workload on files the Python scripts generate and prints
//! `key=value` lines (`cpwl_seconds=` is the time of the computation alone).
//!
//! ```sh
//! cargo run --release --example peer -- w1 target/peers/w1 40
//! cargo run --release --example peer -- w2 target/peers/w2/d3 0.2
//! cargo run --release --example peer -- w3 target/peers/w3 mlp f64 2 10000
//! cargo run --release --example peer -- w4 target/peers/w4 1000
//! cargo run --release --example peer -- w5 target/peers/w5 forward 2 5 [warm-up seconds]
//! ```
//!
//! `CPWL_PEER_REPEAT=<n>` (the scripts set it from their `--repeat`) times
//! the computation of `w1`, `w2` and `w3` `n` times in this one process, as the
//! peers take their best of `n`: `cpwl_seconds=` is then the least time,
//! `cpwl_first_seconds=` the first (cold) run and `cpwl_runs=` is `n`; unset,
//! it is one cold run.
//!
//! `w1` and `w2` take the method as an optional last argument (`plane_split`
//! and `lp` by default);
//! built with `--features serde`, any `Method` variant can be named in snake
//! case (`skeleton`), so the scripts work before and after a method lands.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::npy::npy_bytes;
use common::peers::{npz, vector, w1_slice, Fallible};
use cpwl::lc::{local_complexity, Directions, LcOptions};
use cpwl::network::Conv2d;
use cpwl::regions::{enumerate, EnumOptions, Method};
use cpwl::scales::{les, OutputShape};
use cpwl::{Domain, Network};
use ndarray::{s, Array2, Ix2, Ix4};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Fallible<T> {
    args.get(i)
        .ok_or(format!("missing argument {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}: {}", args[i]).into())
}

/// Runs `compute` `CPWL_PEER_REPEAT` times (one when unset), prints the least
/// time as `cpwl_seconds=`, the first as `cpwl_first_seconds=` and the count
/// as `cpwl_runs=`, and returns the last run's result (every run computes the
/// same) with the least time. Each result is dropped before the next run
/// starts, so memory figures are those of one run.
fn timed<T>(mut compute: impl FnMut() -> Fallible<T>) -> Fallible<(T, f64)> {
    let runs: usize = match std::env::var("CPWL_PEER_REPEAT") {
        Ok(n) => n
            .parse()
            .ok()
            .filter(|&runs| runs > 0)
            .ok_or(format!("bad CPWL_PEER_REPEAT: {n} (a count of runs, 1 or more)"))?,
        Err(_) => 1,
    };
    let (mut best, mut first) = (f64::INFINITY, None);
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let start = Instant::now();
        last = Some(compute()?);
        let seconds = start.elapsed().as_secs_f64();
        first.get_or_insert(seconds);
        best = best.min(seconds);
    }
    println!("cpwl_seconds={best}");
    println!("cpwl_first_seconds={}", first.unwrap_or(best));
    println!("cpwl_runs={runs}");
    Ok((last.expect("at least one run"), best))
}

fn w1(args: &[String]) -> Fallible<()> {
    let dir = PathBuf::from(&args[2]);
    let h: f64 = arg(args, 3, "half-width")?;
    let method = method_by_name(args.get(4).map(String::as_str).unwrap_or("plane_split"))?;
    let (net, domain) = w1_slice(&dir, h)?;
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    let (part, _) = timed(|| Ok(enumerate(&net, &domain, &opts)?))?;
    println!("regions={}", part.len());
    print_memory(&part);
    println!("method={:?}", part.stats().method);
    println!("patterns_sha256={}", patterns_sha256(&part));
    Ok(())
}

/// `Method` by name (`lp`, `auto`, `plane_split`; with the `serde` feature any
/// variant's snake-case name, e.g. `skeleton`, so scripts can name methods that
/// a build may not have yet).
fn method_by_name(name: &str) -> Fallible<Method> {
    match name {
        "lp" => Ok(Method::Lp),
        "auto" => Ok(Method::Auto),
        "plane_split" => Ok(Method::PlaneSplit),
        other => method_by_serde_name(other),
    }
}

#[cfg(feature = "serde")]
fn method_by_serde_name(name: &str) -> Fallible<Method> {
    let camel: String = name
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    serde_json::from_value(serde_json::Value::String(camel))
        .map_err(|_| format!("unknown method {name} in this build").into())
}

#[cfg(not(feature = "serde"))]
fn method_by_serde_name(name: &str) -> Fallible<Method> {
    Err(format!("unknown method {name} (build with --features serde to name any method)").into())
}

/// SHA-256 of the sorted pattern texts, each followed by a newline (the
/// peers' `patterns_sha256`). A partition lists its regions sorted by
/// pattern, which is the byte order of the texts: they are hashed one at a
/// time, never all held at once (a million 1500-unit texts would be 1.5 GB).
fn patterns_sha256(part: &cpwl::regions::Partition) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut text = String::new();
    for r in part.regions() {
        text.clear();
        std::fmt::Write::write_fmt(&mut text, format_args!("{}\n", r.pattern()))
            .expect("writing to a String");
        h.update(text.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The partition's own heap bytes, in all and per region.
fn print_memory(part: &cpwl::regions::Partition) {
    println!("partition_bytes={}", part.memory_bytes());
    println!(
        "bytes_per_region={:.0}",
        part.memory_bytes() as f64 / part.len().max(1) as f64
    );
}

fn w2(args: &[String]) -> Fallible<()> {
    let dir = PathBuf::from(&args[2]);
    let h: f64 = arg(args, 3, "half-width")?;
    let method = method_by_name(args.get(4).map(String::as_str).unwrap_or("lp"))?;
    let net = Network::from_npz(dir.join("net.npz"))?;
    let domain = Domain::cube(net.input_dim(), -h, h);
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    let (part, _) = timed(|| Ok(enumerate(&net, &domain, &opts)?))?;
    let st = part.stats();
    println!(
        "regions={}\nlps={}\nlps_skipped={}\nthin={}\nmethod={:?}",
        part.len(),
        st.lps_solved,
        st.lps_skipped,
        st.rejected_thin,
        st.method
    );
    print_memory(&part);
    println!("patterns_sha256={}", patterns_sha256(&part));
    Ok(())
}

/// The W3 CNN from PyTorch state-dict names (architecture in `cnn_arch.json`).
fn w3_cnn(dir: &Path) -> Fallible<Network> {
    let arrays = npz(dir.join("cnn.npz"))?;
    let arch: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cnn_arch.json"))?)?;
    let input: Vec<usize> = arch["input"]
        .as_array()
        .ok_or("input")?
        .iter()
        .filter_map(|v| v.as_u64().map(|v| v as usize))
        .collect();
    let mut b = Network::builder_image(input[0], input[1], input[2]);
    for layer in arch["layers"].as_array().ok_or("layers")? {
        let name = layer["name"].as_str().unwrap_or("");
        match layer["type"].as_str() {
            Some("conv2d") => {
                let weight = arrays[&format!("{name}.weight")]
                    .clone()
                    .into_dimensionality::<Ix4>()?;
                let stride = layer["stride"].as_u64().ok_or("stride")? as usize;
                let pad = layer["padding"].as_u64().ok_or("padding")? as usize;
                let conv = Conv2d {
                    stride: [stride; 2],
                    padding: [pad; 2],
                    ..Conv2d::new(weight, Some(vector(&arrays, &format!("{name}.bias"))?))
                };
                b = b.conv2d(conv)?;
            }
            Some("flatten") => b = b.flatten(),
            Some("linear") => {
                let w = arrays[&format!("{name}.weight")]
                    .clone()
                    .into_dimensionality::<Ix2>()?;
                b = b.dense(w, vector(&arrays, &format!("{name}.bias"))?)?;
            }
            other => return Err(format!("unknown layer {other:?}").into()),
        }
        if layer["act"].as_str() == Some("relu") {
            b = b.relu();
        }
    }
    Ok(b.build()?)
}

fn w3(args: &[String]) -> Fallible<()> {
    let dir = PathBuf::from(&args[2]);
    let which = args.get(3).map(String::as_str).unwrap_or("mlp");
    let precision = args.get(4).map(String::as_str).unwrap_or("f64");
    let threads: usize = arg(args, 5, "threads")?;
    let n: usize = arg(args, 6, "points")?;
    let (net, count_output) = match which {
        "cnn" => (w3_cnn(&dir)?, false),
        _ => (Network::from_npz(dir.join("mlp.npz"))?, true),
    };
    let precision = match precision {
        "f32" => cpwl::run::Precision::F32,
        _ => cpwl::run::Precision::F64,
    };
    let points = cpwl::io::load_npy(dir.join("points.npy"))?.into_dimensionality::<Ix2>()?;
    let points = points.slice(s![..n.min(points.nrows()), ..]).to_owned();
    let dirs = cpwl::io::load_npy(dir.join("directions.npy"))?.into_dimensionality::<Ix2>()?;
    let mut opts = LcOptions {
        count_output_layer: count_output,
        ..LcOptions::new(0.005, Directions::Given(dirs))
    };
    opts.run.precision = precision;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let (report, cpwl_seconds) =
        timed(|| Ok(pool.install(|| local_complexity(&net, points.view(), &opts))?))?;
    println!("lc_mean={}", report.mean());
    if which == "mlp" {
        let widths: Vec<usize> = std::iter::once(net.input_dim())
            .chain(report.widths().iter().copied())
            .collect();
        let flops = folded_mlp_flops(&widths, points.nrows(), dirs_count(&opts));
        let gemm = pool.install(|| same_shape_gemm_seconds(&widths, points.nrows(), dirs_count(&opts)));
        println!("work_gflops={}", flops / 1e9);
        println!("work_rate_gflops_per_s={}", flops / 1e9 / cpwl_seconds);
        println!("gemm_same_shapes_seconds={gemm}");
        println!("gemm_rate_gflops_per_s={}", flops / 1e9 / gemm);
        println!("fraction_of_gemm_rate={}", gemm / cpwl_seconds);
    }
    let counts = report.per_layer();
    let bytes: Vec<u8> = counts.iter().flat_map(|&c| (c as i32).to_le_bytes()).collect();
    let out = dir.join(format!("cpwl_counts_{which}.npy"));
    std::fs::write(
        &out,
        npy_bytes("<i4", false, &[counts.nrows(), counts.ncols()], &bytes),
    )?;
    println!("counts_file={}", out.display());
    Ok(())
}

fn dirs_count(opts: &LcOptions) -> usize {
    match &opts.directions {
        Directions::Given(d) => d.nrows(),
        _ => 0,
    }
}

/// Floating-point operations of LC on an MLP after folding the first layer:
/// `W x` per point, `W v` per direction, then every later layer at all `2P`
/// vertices of every point.
fn folded_mlp_flops(widths: &[usize], points: usize, p: usize) -> f64 {
    let first = 2.0 * (points + p) as f64 * (widths[0] * widths[1]) as f64;
    let rest: usize = widths[1..].windows(2).map(|w| w[0] * w[1]).sum();
    first + 2.0 * (points * 2 * p) as f64 * rest as f64
}

/// Seconds for faer GEMMs of the shapes of [`folded_mlp_flops`], split into
/// tasks of 64 points on the current rayon pool (as the LC kernel runs):
/// the GEMM rate that the same work could reach on this machine now.
fn same_shape_gemm_seconds(widths: &[usize], points: usize, p: usize) -> f64 {
    use faer::{Accum, Mat, Par};
    use rayon::prelude::*;
    const TASK_POINTS: usize = 64;
    let tasks = points.div_ceil(TASK_POINTS);
    let weights: Vec<Mat<f64>> = widths
        .windows(2)
        .map(|w| Mat::from_fn(w[0], w[1], |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.01))
        .collect();
    let inputs: Vec<Mat<f64>> = widths[..widths.len() - 1]
        .iter()
        .enumerate()
        .map(|(l, &w)| {
            let rows = if l == 0 { TASK_POINTS } else { TASK_POINTS * 2 * p };
            Mat::from_fn(rows, w, |i, j| ((i + j) % 5) as f64)
        })
        .collect();
    let start = Instant::now();
    (0..tasks).into_par_iter().for_each(|_| {
        for (x, w) in inputs.iter().zip(&weights) {
            let mut out = Mat::<f64>::zeros(x.nrows(), w.ncols());
            faer::linalg::matmul::matmul(
                out.as_mut(),
                Accum::Replace,
                x.as_ref(),
                w.as_ref(),
                1.0,
                Par::Seq,
            );
            std::hint::black_box(&out);
        }
    });
    start.elapsed().as_secs_f64()
}

fn w4(args: &[String]) -> Fallible<()> {
    let dir = PathBuf::from(&args[2]);
    let n: usize = arg(args, 3, "latents")?;
    let dec = Network::from_npz(dir.join("decoder.npz"))?;
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("workload.json"))?)?;
    let shape = OutputShape::Categorical {
        seq_len: info["length"].as_u64().ok_or("length")? as usize,
        vocab: info["vocab"].as_u64().ok_or("vocab")? as usize,
    };
    let z: Array2<f64> = cpwl::io::load_npy(dir.join("z.npy"))?.into_dimensionality::<Ix2>()?;
    let z = z.slice(s![..n.min(z.nrows()), ..]).to_owned();
    let start = Instant::now();
    let scores = les(&dec, z.view(), shape)?;
    println!("cpwl_seconds={}", start.elapsed().as_secs_f64());
    println!("les_mean={}", scores.mean().unwrap_or(f64::NAN));
    let out = dir.join("cpwl_les.npy");
    let bytes: Vec<u8> = scores.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&out, npy_bytes("<f8", false, &[scores.len()], &bytes))?;
    println!("les_file={}", out.display());
    Ok(())
}

/// One timed W5 run (the backend call alone) and its checksums: output sum,
/// pattern ones, and for `jacobians` the sum and absolute sum of the Jacobians.
fn w5_run(
    cpu: &cpwl::backend::CpuBackend,
    net: &Network,
    x: ndarray::ArrayView2<f64>,
    mode: &str,
) -> cpwl::Result<(f64, [f64; 4])> {
    use cpwl::backend::{Backend, Keep};
    let ones = |p: &ndarray::Array2<u8>| p.iter().map(|&v| f64::from(v)).sum::<f64>();
    let start = Instant::now();
    Ok(if mode == "jacobians" {
        let r = cpu.jacobians(net, x)?;
        let seconds = start.elapsed().as_secs_f64();
        let abs = r.jacobians.iter().map(|v| v.abs()).sum();
        (
            seconds,
            [r.outputs.sum(), ones(&r.patterns), r.jacobians.sum(), abs],
        )
    } else {
        let r = cpu.forward(net, x, Keep::Patterns)?;
        let seconds = start.elapsed().as_secs_f64();
        (
            seconds,
            [r.outputs.sum(), r.patterns.as_ref().map_or(0.0, ones), 0.0, 0.0],
        )
    })
}

/// W5's timing method, the same on both sides (`benches/peers/w5_forward.py`):
/// the call runs untimed for at least this many seconds first (at least
/// once), then `repeat` timed runs give the least and the median time. The
/// best of 5 runs from a fresh process's first call gave 23-28 ms where
/// criterion (3 s of warm-up, then the mean) gave 16.3 ms for the same call
/// on a quiet machine; alternated in one process, this example's set-up
/// (its own pool, the peer's files) and the bench's (rayon's global pool,
/// generated data) run the same and fault no pages after the first call, so
/// what differs is the time since the process started, which the warm-up
/// removes from both sides.
const W5_WARMUP_SECONDS: f64 = 1.0;

/// W5: `forward` (outputs and patterns) or `jacobians` (and the exact
/// Jacobians) of `points.npy` through `net.npz` on a pool of `threads`: the
/// least and the median of `repeat` runs after [`W5_WARMUP_SECONDS`] of
/// untimed runs (an optional last argument overrides it), with checksums
/// the peer compares.
fn w5(args: &[String]) -> Fallible<()> {
    let dir = PathBuf::from(&args[2]);
    let mode = args.get(3).map(String::as_str).unwrap_or("forward");
    let threads: usize = arg(args, 4, "threads")?;
    let repeat: usize = arg(args, 5, "repeat")?;
    let warmup: f64 = if args.len() > 6 {
        arg(args, 6, "warm-up seconds")?
    } else {
        W5_WARMUP_SECONDS
    };
    let net = Network::from_npz(dir.join("net.npz"))?;
    let x = cpwl::io::load_npy(dir.join("points.npy"))?.into_dimensionality::<Ix2>()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let cpu = cpwl::backend::CpuBackend::default();
    let run = || pool.install(|| w5_run(&cpu, &net, x.view(), mode));
    let start = Instant::now();
    let mut warmups = 0;
    while warmups == 0 || start.elapsed().as_secs_f64() < warmup {
        run()?;
        warmups += 1;
    }
    let mut times = Vec::with_capacity(repeat.max(1));
    let mut sums = [0.0; 4];
    for _ in 0..repeat.max(1) {
        let (seconds, s) = run()?;
        times.push(seconds);
        sums = s;
    }
    times.sort_by(f64::total_cmp);
    println!("output_sum={}\npattern_ones={}", sums[0], sums[1]);
    if mode == "jacobians" {
        println!("jacobian_sum={}\njacobian_abs_sum={}", sums[2], sums[3]);
    }
    println!("warmup_runs={warmups}");
    println!("cpwl_median_seconds={}", times[times.len() / 2]);
    println!("cpwl_seconds={}", times[0]);
    Ok(())
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: peer <w1|w2|w3|w4|w5> <workload dir> <args...>".into());
    }
    match args[1].as_str() {
        "w1" => w1(&args),
        "w2" => w2(&args),
        "w3" => w3(&args),
        "w4" => w4(&args),
        "w5" => w5(&args),
        other => Err(format!("unknown workload {other}").into()),
    }
}
