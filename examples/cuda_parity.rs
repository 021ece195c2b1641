//! Parity and timings of the CUDA backend against the CPU backend, on the
//! machine this runs on.
//!
//! Prints the card's name, then for the W3, W4 and W5 workloads of the
//! performance spec (scaled by `--scale`, default 1.0) the CPU and GPU times
//! (best of `--repeat` runs, default 3, after one warm-up) and their ratio,
//! checking on the way that patterns and counts are identical and values
//! within 1e-9 relative. Exits 0 with a "skipping" line where there is no
//! GPU, 1 when a check fails.
//!
//! ```text
//! cargo run --release --features cuda --example cuda_parity -- [--scale 0.1] [--repeat 3]
//!     [--threads 16] [--only w5,w3,w4,affine,w3-resident,w4-les]
//! ```
//!
//! Workloads (seeded, deterministic):
//! - W5: 4096 x 784 points through the 784-200-200-200-10 ReLU MLP
//!   (He init): forward with patterns, and forward + Jacobians.
//! - W3: local complexity of 10,000 points, P = 25, radius 0.05, same
//!   network, output layer counted.
//! - W4: 1,000 latent points through a 56-512-512-4200 ReLU decoder
//!   (L = 120, V = 35): Jacobians (timed per latent; the CPU backend, which
//!   pulls back one covector per output, runs on the first 64 only), then
//!   the whole LES Gram reduction (`Backend::les_grams`: latents in,
//!   `d x d` matrices out).
//! - W3 resident: the W3 points prepared once on the GPU
//!   (`lc::prepare_points`, the points stay in device memory) and their LC
//!   (`lc::local_complexity_prepared`) at three checkpoints (networks of
//!   other seeds), against `lc::local_complexity` on the CPU backend with
//!   `--threads` threads (default: all cores); also the GPU from host arrays.
//! - W4 LES: `scales::les_with` on the W4 decoder and latents with the CUDA
//!   backend (which prefers `Backend::les_grams`: Jacobians stay on the
//!   device) against the CPU route with `--threads` threads.
//!
//! Lines starting with `SUMMARY` give each workload's ratio and check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpwl::backend::{Backend, CpuBackend, CudaBackend, Keep, Neighbourhood};
use cpwl::lc::{local_complexity, local_complexity_prepared, prepare_points, Directions, LcOptions};
use cpwl::run::RunOptions;
use cpwl::scales::{les_with, OutputShape, ScoreOptions};
use cpwl::Network;
use ndarray::{s, Array1, Array2};

const RTOL: f64 = 1e-9;

/// SplitMix64 with Box-Muller normals: a seeded source for the workloads.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn he_mlp(widths: &[usize], seed: u64) -> cpwl::Result<Network> {
    let mut rng = Rng(seed);
    let mut b = Network::builder(widths[0]);
    for (k, pair) in widths.windows(2).enumerate() {
        let std = (2.0 / pair[0] as f64).sqrt();
        let w = Array2::from_shape_simple_fn((pair[1], pair[0]), || std * rng.normal());
        let bias = Array1::from_shape_simple_fn(pair[1], || 0.01 * rng.normal());
        b = b.dense(w, bias)?;
        if k + 2 < widths.len() {
            b = b.relu();
        }
    }
    b.build()
}

fn uniform_points(n: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng(seed);
    Array2::from_shape_simple_fn((n, dim), || rng.uniform())
}

fn unit_directions(p: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng(seed);
    let mut d = Array2::from_shape_simple_fn((p, dim), || rng.normal());
    for mut row in d.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
    d
}

/// Best wall time of `repeat` runs after one warm-up (which compiles the
/// GPU kernels on first use), and the last result.
fn time<T>(repeat: usize, mut f: impl FnMut() -> cpwl::Result<T>) -> cpwl::Result<(Duration, T)> {
    let mut last = f()?;
    let mut best = Duration::MAX;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        last = f()?;
        best = best.min(start.elapsed());
    }
    Ok((best, last))
}

/// The failures found so far.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
}

impl Report {
    fn values<'a>(
        &mut self,
        what: &str,
        got: impl IntoIterator<Item = &'a f64>,
        want: impl IntoIterator<Item = &'a f64>,
    ) {
        let mut worst = 0.0f64;
        for (g, w) in got.into_iter().zip(want) {
            worst = worst.max((g - w).abs() / g.abs().max(w.abs()).max(1.0));
        }
        println!("  {what}: largest relative difference {worst:.2e}");
        if worst > RTOL {
            self.failures
                .push(format!("{what}: relative difference {worst:.2e} > {RTOL:.0e}"));
        }
    }

    fn equal<T: PartialEq>(&mut self, what: &str, got: &T, want: &T) {
        let same = got == want;
        println!("  {what}: {}", if same { "identical" } else { "DIFFERENT" });
        if !same {
            self.failures.push(format!("{what} differ"));
        }
    }
}

fn timing_line(what: &str, cpu: Duration, gpu: Duration) {
    println!(
        "  {what}: cpu {:.3} s, gpu {:.4} s, speed-up {:.1}x",
        cpu.as_secs_f64(),
        gpu.as_secs_f64(),
        cpu.as_secs_f64() / gpu.as_secs_f64()
    );
}

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

fn w5(
    cpu: &dyn Backend,
    gpu: &dyn Backend,
    scale: f64,
    repeat: usize,
    report: &mut Report,
) -> cpwl::Result<()> {
    let n = scaled(4096, scale);
    println!("W5: {n} x 784 through 784-200-200-200-10 (forward + patterns, + Jacobians)");
    let net = he_mlp(&[784, 200, 200, 200, 10], 0)?;
    let x = uniform_points(n, 784, 1);
    let (tc, fc) = time(repeat, || cpu.forward(&net, x.view(), Keep::Patterns))?;
    let (tg, fg) = time(repeat, || gpu.forward(&net, x.view(), Keep::Patterns))?;
    timing_line("forward + patterns", tc, tg);
    report.values("outputs", &fg.outputs, &fc.outputs);
    report.equal("patterns", &fg.patterns, &fc.patterns);
    let (tc, jc) = time(repeat, || cpu.jacobians(&net, x.view()))?;
    let (tg, jg) = time(repeat, || gpu.jacobians(&net, x.view()))?;
    timing_line("forward + patterns + Jacobians", tc, tg);
    report.values("jacobians", &jg.jacobians, &jc.jacobians);
    report.equal("jacobian patterns", &jg.patterns, &jc.patterns);
    Ok(())
}

fn w3(
    cpu: &dyn Backend,
    gpu: &dyn Backend,
    scale: f64,
    repeat: usize,
    report: &mut Report,
) -> cpwl::Result<()> {
    let n = scaled(10_000, scale);
    println!("W3: local complexity of {n} points, P = 25, 784-200-200-200-10");
    let net = he_mlp(&[784, 200, 200, 200, 10], 0)?;
    let x = uniform_points(n, 784, 2);
    let dirs = unit_directions(25, 784, 3);
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: 0.05,
        count_output: true,
    };
    let (tc, cc) = time(repeat, || cpu.sign_changes(&net, x.view(), hood))?;
    let (tg, cg) = time(repeat, || gpu.sign_changes(&net, x.view(), hood))?;
    timing_line("sign changes", tc, tg);
    report.equal("counts", &cg, &cc);
    println!("  mean total count {:.3}", cc.sum() as f64 / n as f64);
    Ok(())
}

/// The W4 decoder (56-512-512-4200, L = 120, V = 35) and `n` latents.
fn w4_problem(n: usize) -> cpwl::Result<(Network, Array2<f64>)> {
    let (d, l, v) = W4_SHAPE;
    let net = he_mlp(&[d, 512, 512, l * v], 4)?;
    let z = Array2::from_shape_fn((n, d), |(i, j)| ((i * 31 + j * 17) % 101) as f64 / 50.0 - 1.0);
    Ok((net, z))
}

/// Latent dimension, sequence length and vocabulary of W4.
const W4_SHAPE: (usize, usize, usize) = (56, 120, 35);

fn w4(gpu: &dyn Backend, scale: f64, repeat: usize, report: &mut Report) -> cpwl::Result<()> {
    let (n, (_, l, v)) = (scaled(1000, scale), W4_SHAPE);
    // The CPU backend pulls back one covector per output (4200 per latent):
    // small chunks bound its memory, and a subset bounds its time.
    let n_cpu = scaled(64, scale).min(n);
    let cpu = CpuBackend::default().with_chunk(4);
    println!(
        "W4: {n} latents (CPU: the first {n_cpu}), decoder 56-512-512-{} (L = {l}, V = {v}): Jacobians + Gram",
        l * v
    );
    let (net, z) = w4_problem(n)?;
    let z_cpu = z.slice(s![..n_cpu, ..]);
    let (tc, jc) = time(repeat, || cpu.jacobians(&net, z_cpu))?;
    let (tg, jg) = time(repeat, || gpu.jacobians(&net, z.view()))?;
    let (per_c, per_g) = (tc.as_secs_f64() / n_cpu as f64, tg.as_secs_f64() / n as f64);
    println!(
        "  Jacobians per latent: cpu {:.3} ms, gpu {:.4} ms, speed-up {:.1}x",
        1e3 * per_c,
        1e3 * per_g,
        per_c / per_g
    );
    report.values(
        "decoder jacobians",
        jg.jacobians.slice(s![..n_cpu, .., ..]),
        &jc.jacobians,
    );
    report.equal(
        "decoder patterns",
        &jg.patterns.slice(s![..n_cpu, ..]).to_owned(),
        &jc.patterns,
    );
    // The whole LES reduction in one call: latents in, d x d Grams out (the
    // GPU keeps the Jacobians on the device).
    let (tc, lc) = time(repeat, || cpu.les_grams(&net, z_cpu, l, v))?;
    let (tg, lg) = time(repeat, || gpu.les_grams(&net, z.view(), l, v))?;
    let (per_c, per_g) = (tc.as_secs_f64() / n_cpu as f64, tg.as_secs_f64() / n as f64);
    println!(
        "  LES Grams per latent (les_grams): cpu {:.3} ms, gpu {:.4} ms, speed-up {:.1}x",
        1e3 * per_c,
        1e3 * per_g,
        per_c / per_g
    );
    report.values("LES grams", lg.grams.slice(s![..n_cpu, .., ..]), &lc.grams);
    Ok(())
}

/// A ratio line that the device script collects.
fn summary(what: &str, cpu: Duration, gpu: Duration, target: f64) {
    let ratio = cpu.as_secs_f64() / gpu.as_secs_f64();
    let verdict = if ratio >= target { "met" } else { "NOT met" };
    println!(
        "SUMMARY {what}: cpu {:.4} s, gpu {:.4} s, {ratio:.1}x (target {target}x: {verdict})",
        cpu.as_secs_f64(),
        gpu.as_secs_f64()
    );
}

/// Run options on `threads` CPU threads (the CPU backend).
fn cpu_run(threads: usize) -> RunOptions {
    RunOptions {
        threads: Some(threads),
        ..Default::default()
    }
}

/// Run options on the GPU, the whole batch in one wave.
fn gpu_run(gpu: &CudaBackend, n: usize) -> RunOptions {
    RunOptions {
        threads: Some(1),
        chunk: Some(n.max(1)),
        ..Default::default()
    }
    .with_backend(Arc::new(gpu.clone()))
}

/// W3 with the points resident on the GPU, at successive checkpoints.
fn w3_resident(
    gpu: &CudaBackend,
    threads: usize,
    scale: f64,
    repeat: usize,
    report: &mut Report,
) -> cpwl::Result<()> {
    let (n, checkpoints) = (scaled(10_000, scale), 3);
    println!(
        "W3 resident: LC of {n} points at {checkpoints} checkpoints, P = 25, 784-200-200-200-10 \
         (CPU backend on {threads} threads)"
    );
    let x = uniform_points(n, 784, 2);
    let cpu_opts = LcOptions {
        run: cpu_run(threads),
        ..LcOptions::new(0.05, Directions::Seeded { count: 25, seed: 3 })
    };
    let gpu_opts = LcOptions {
        run: gpu_run(gpu, n),
        ..cpu_opts.clone()
    };
    let start = Instant::now();
    let prepared = prepare_points(x.view(), &gpu_opts.run)?;
    println!("  points uploaded once: {:.4} s", start.elapsed().as_secs_f64());
    let mut totals = [Duration::ZERO; 3];
    for k in 0..checkpoints {
        let net = he_mlp(&[784, 200, 200, 200, 10], 10 + k)?;
        let (tc, cc) = time(repeat, || local_complexity(&net, x.view(), &cpu_opts))?;
        let (tg, cg) = time(repeat, || local_complexity_prepared(&net, &prepared, &gpu_opts))?;
        let (th, ch) = time(repeat, || local_complexity(&net, x.view(), &gpu_opts))?;
        report.equal(
            &format!("checkpoint {k} counts (resident)"),
            cg.per_layer(),
            cc.per_layer(),
        );
        report.equal(
            &format!("checkpoint {k} counts (host arrays)"),
            ch.per_layer(),
            cc.per_layer(),
        );
        for (total, t) in totals.iter_mut().zip([tc, tg, th]) {
            *total += t;
        }
    }
    let per = |t: Duration| t / checkpoints as u32;
    timing_line(
        "LC per checkpoint, GPU from host arrays",
        per(totals[0]),
        per(totals[2]),
    );
    timing_line("LC per checkpoint, GPU resident", per(totals[0]), per(totals[1]));
    summary(
        "W3 resident LC per checkpoint",
        per(totals[0]),
        per(totals[1]),
        10.0,
    );
    Ok(())
}

/// W4: `scales::les_with` on the GPU (through `les_grams`) and on the CPU.
fn w4_les(
    gpu: &CudaBackend,
    threads: usize,
    scale: f64,
    repeat: usize,
    report: &mut Report,
) -> cpwl::Result<()> {
    let n = scaled(1000, scale);
    let (_, l, v) = W4_SHAPE;
    let (net, z) = w4_problem(n)?;
    let shape = OutputShape::Categorical { seq_len: l, vocab: v };
    let route = if gpu.prefers_les_grams(&net) {
        "les_grams"
    } else {
        "Jacobians"
    };
    println!("W4 LES: scales::les_with of {n} latents, GPU route {route} (CPU on {threads} threads)");
    if route != "les_grams" {
        report
            .failures
            .push("the CUDA backend does not take les_grams for W4".into());
    }
    let cpu_opts = ScoreOptions {
        run: cpu_run(threads),
        ..Default::default()
    };
    let gpu_opts = ScoreOptions {
        run: gpu_run(gpu, n),
        ..Default::default()
    };
    let (tc, sc) = time(repeat, || les_with(&net, z.view(), shape, &cpu_opts))?;
    let (tg, sg) = time(repeat, || les_with(&net, z.view(), shape, &gpu_opts))?;
    report.equal("LES statuses", &sg.status().to_vec(), &sc.status().to_vec());
    report.values("LES values", sg.values(), sc.values());
    timing_line("scales::les_with", tc, tg);
    summary("W4 scales::les", tc, tg, 20.0);
    Ok(())
}

fn affine(cpu: &dyn Backend, gpu: &dyn Backend, report: &mut Report) -> cpwl::Result<()> {
    println!("Affine map: 20,000 points x 600 functions in 784-D");
    let mut rng = Rng(9);
    let a = Array2::from_shape_simple_fn((600, 784), || rng.normal());
    let c = Array1::from_shape_simple_fn(600, || rng.normal());
    let p = uniform_points(20_000, 784, 10);
    let want = cpu.affine_values(a.view(), c.view(), p.view())?;
    let got = gpu.affine_values(a.view(), c.view(), p.view())?;
    report.equal("affine shape", &got.dim(), &want.dim());
    report.values("affine values", got.iter(), want.iter());
    Ok(())
}

/// The workloads, in the order they run by default.
const ALL: [&str; 6] = ["w5", "w3", "w4", "affine", "w3-resident", "w4-les"];

fn arg(args: &[String], name: &str, default: f64) -> f64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> cpwl::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let scale = arg(&args, "--scale", 1.0);
    let repeat = arg(&args, "--repeat", 3.0) as usize;
    let gpu = match CudaBackend::new(0) {
        Ok(gpu) => gpu,
        Err(e) => {
            println!("skipping: {e}");
            return Ok(());
        }
    };
    // CPWL_PINNED=0 copies straight from pageable memory, for comparison.
    let pinned = std::env::var("CPWL_PINNED").map_or(true, |v| v != "0");
    let gpu = gpu.with_pinned_staging(pinned);
    println!("GPU: {} ({}), pinned staging {pinned}", gpu.card(), gpu.name());
    println!(
        "CPU: {} rayon threads; best of {repeat} runs after a warm-up; scale {scale}",
        rayon::current_num_threads()
    );
    let threads = arg(&args, "--threads", 0.0) as usize;
    let threads = if threads == 0 {
        rayon::current_num_threads()
    } else {
        threads
    };
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map_or(ALL.to_vec(), |list| list.split(',').collect());
    let cpu = CpuBackend::default();
    let mut report = Report::default();
    for name in only {
        match name {
            "w5" => w5(&cpu, &gpu, scale, repeat, &mut report)?,
            "w3" => w3(&cpu, &gpu, scale, repeat, &mut report)?,
            "w4" => w4(&gpu, scale, repeat, &mut report)?,
            "affine" => affine(&cpu, &gpu, &mut report)?,
            "w3-resident" => w3_resident(&gpu, threads, scale, repeat, &mut report)?,
            "w4-les" => w4_les(&gpu, threads, scale, repeat, &mut report)?,
            other => report
                .failures
                .push(format!("unknown workload {other} (one of {ALL:?})")),
        }
    }
    if report.failures.is_empty() {
        println!("all parity checks passed");
        Ok(())
    } else {
        for f in &report.failures {
            println!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}
