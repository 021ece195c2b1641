//! Sharded enumeration of the W2 network (d-64-64-64-1, PyTorch's default
//! init, as in `benches/w2_lp.rs`) in the box `[-h, h]^d`.
//!
//! On timely (threads, processes, hosts; options after `--` go to timely):
//!
//! ```sh
//! cargo run --release --features timely --example sharded -- --d 4 --half 0.3 --shards 32 -- -w 4
//! # two processes on one host (or two hosts with their addresses in hosts.txt):
//! cargo run --release --features timely --example sharded -- --half 0.3 -- -n 2 -p 0 -h hosts.txt &
//! cargo run --release --features timely --example sharded -- --half 0.3 -- -n 2 -p 1 -h hosts.txt
//! ```
//!
//! Without an engine, one shard file per job, then the merge (rerun the first
//! command after a failure: it skips the shards whose files exist):
//!
//! ```sh
//! cargo run --release --features timely --example sharded -- --half 0.3 --shards 32 --files out/
//! cargo run --release --features timely --example sharded -- --half 0.3 --shards 32 --merge out/
//! ```
//!
//! `--single` enumerates the whole box in one run, for comparison.

#[path = "../benches/common/mod.rs"]
mod workloads;

use std::path::{Path, PathBuf};
use std::time::Instant;

use cpwl::regions::{enumerate, EnumOptions, Method};
use cpwl::shard::{
    merge, missing_shards, plan, run_shard, timely_worker, PlanOptions, ShardResult, TimelyOptions,
};
use cpwl::{Domain, Network};

/// The example's own options (before `--`).
struct Args {
    d: usize,
    half: f64,
    shards: Option<usize>,
    files: Option<PathBuf>,
    merge: Option<PathBuf>,
    single: bool,
    timely: Vec<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        d: 4,
        half: 0.1,
        shards: None,
        files: None,
        merge: None,
        single: false,
        timely: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--d" => args.d = value()?.parse().map_err(|e| format!("--d: {e}"))?,
            "--half" => args.half = value()?.parse().map_err(|e| format!("--half: {e}"))?,
            "--shards" => args.shards = Some(value()?.parse().map_err(|e| format!("--shards: {e}"))?),
            "--files" => args.files = Some(value()?.into()),
            "--merge" => args.merge = Some(value()?.into()),
            "--single" => args.single = true,
            "--" => {
                args.timely = it.collect();
                break;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse()?;
    let net = workloads::torch_mlp(&[args.d, 64, 64, 64, 1], args.d as u64);
    let domain = Domain::cube(args.d, -args.half, args.half);
    // One thread per shard run: the engine's workers are the parallelism.
    let plan_opts = PlanOptions {
        enumerate: EnumOptions {
            method: Method::Lp,
            run: cpwl::run::RunOptions {
                threads: Some(1),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let start = Instant::now();
    if args.single {
        let part = enumerate(&net, &domain, &plan_opts.enumerate)?;
        println!(
            "single run: {} regions in {:.2?}, thread cpu {:.1} s",
            part.len(),
            start.elapsed(),
            thread_cpu_seconds()
        );
    } else if let Some(dir) = &args.files {
        shard_files(&net, &domain, args.shards.unwrap_or(16), &plan_opts, dir)?;
    } else if let Some(dir) = &args.merge {
        merge_files(&net, &domain, args.shards.unwrap_or(16), dir, start)?;
    } else {
        on_timely(&net, &domain, &args, plan_opts, start)?;
    }
    Ok(())
}

/// Runs the shards whose files are missing, one file each.
fn shard_files(
    net: &Network,
    domain: &Domain,
    k: usize,
    opts: &PlanOptions,
    dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    for job in plan(net, domain, k, opts)? {
        let file = dir.join(format!("shard-{}-of-{k}.bin", job.index));
        if file.exists() {
            continue;
        }
        let t = Instant::now();
        let r = run_shard(net, domain, &job, &opts.enumerate)?;
        let bytes = r.to_bytes();
        // Written under a temporary name, then renamed: a killed run leaves
        // no half-written shard behind.
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &file))?;
        println!(
            "shard {}: {} pieces, {} bytes, {:.2?}",
            job.index,
            r.pieces.len(),
            bytes.len(),
            t.elapsed()
        );
    }
    Ok(())
}

/// Merges the shard files, or names the shards still missing.
fn merge_files(
    net: &Network,
    domain: &Domain,
    k: usize,
    dir: &Path,
    start: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut results = Vec::new();
    for i in 0..k {
        if let Ok(bytes) = std::fs::read(dir.join(format!("shard-{i}-of-{k}.bin"))) {
            results.push(ShardResult::from_bytes(&bytes)?);
        }
    }
    let missing = missing_shards(k, &results);
    if !missing.is_empty() {
        println!("missing shards {missing:?}: run --files again");
        return Ok(());
    }
    let part = merge(net, domain, results)?;
    println!("merged: {} regions in {:.2?}", part.len(), start.elapsed());
    Ok(())
}

fn on_timely(
    net: &Network,
    domain: &Domain,
    args: &Args,
    plan: PlanOptions,
    start: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = timely::Config::from_args(args.timely.iter().cloned())?;
    let opts = TimelyOptions {
        shards: args.shards.unwrap_or(0),
        plan,
        ..Default::default()
    };
    let (net, domain) = (net.clone(), domain.clone());
    let guards = timely::execute(config, move |worker| {
        let cpu = thread_cpu_seconds();
        let r = timely_worker(worker, &net, &domain, &opts)?;
        println!(
            "worker {}/{}: shards {:?}, {} pieces sent ({} bytes), {} patterns merged, {} bytes gathered, \
             shards {:.2?}, merge {:.2?}, thread cpu {:.1} s",
            r.worker,
            r.peers,
            r.shards,
            r.pieces_sent,
            r.bytes_sent,
            r.merged,
            r.bytes_gathered,
            r.shard_time,
            r.merge_time,
            thread_cpu_seconds() - cpu
        );
        if let Some(p) = &r.partition {
            println!("merged partition: {} regions in {:.2?}", p.len(), start.elapsed());
        }
        Ok::<_, cpwl::Error>(())
    })?;
    for g in guards.join() {
        g??;
    }
    Ok(())
}

/// The CPU time of the calling thread (Linux; 0 elsewhere): on a loaded
/// machine it says more than the wall time.
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}
