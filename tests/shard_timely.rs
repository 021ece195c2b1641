//! Sharded enumeration on timely (feature `timely`): worker threads in one
//! process, and 2 or 3 processes on loopback, give the single-process
//! partition and local complexity.
//!
//! The processes are this test binary itself, started with the ignored test
//! `worker_process` and the environment variable `CPWL_SHARD_WORKER`, so no
//! other binary has to be built.
#![cfg(feature = "timely")]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpwl::lc::{local_complexity, Directions, LcOptions};
use cpwl::regions::{enumerate, EnumOptions, Partition};
use cpwl::run::{Outcome, Progress};
use cpwl::shard::{gather_points, timely_run, timely_worker, TimelyOptions};
use cpwl::{Domain, Network};
use ndarray::{s, Array1, Array2};

const ROLE: &str = "CPWL_SHARD_WORKER";
/// A process still running after this long has hung: it is killed and the
/// test fails (a safety net only; a run takes a few seconds).
const PROCESS_DEADLINE: Duration = Duration::from_secs(300);

/// A fixed ReLU network on 3 inputs (a few hundred regions in the cube).
fn net() -> Network {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let w1 = Array2::from_shape_simple_fn((10, 3), &mut next);
    let b1 = Array1::from_shape_simple_fn(10, || 0.3 * next());
    let w2 = Array2::from_shape_simple_fn((8, 10), &mut next);
    let b2 = Array1::from_shape_simple_fn(8, || 0.3 * next());
    let w3 = Array2::from_shape_simple_fn((2, 8), &mut next);
    Network::builder(3)
        .dense(w1, b1)
        .and_then(|b| b.relu().dense(w2, b2))
        .and_then(|b| b.relu().dense(w3, Array1::zeros(2)))
        .and_then(|b| b.build())
        .unwrap()
}

fn domain() -> Domain {
    Domain::cube(3, -1.0, 1.0)
}

/// Points for the local complexity.
fn points() -> Array2<f64> {
    Array2::from_shape_fn((37, 3), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 5.5 - 1.0)
}

fn lc_rows(net: &Network, points: ndarray::ArrayView2<f64>) -> Array2<f64> {
    let opts = LcOptions::new(0.25, Directions::Seeded { count: 3, seed: 5 });
    local_complexity(net, points, &opts)
        .unwrap()
        .per_layer()
        .mapv(f64::from)
}

/// The partition as text: each region's pattern, facets, neighbours'
/// patterns and volume, in order.
fn summary(p: &Partition) -> String {
    let mut out = String::new();
    for r in p.regions() {
        let mut facets: Vec<String> = r.sources().iter().map(|s| format!("{s:?}")).collect();
        facets.sort();
        let neighbours: Vec<String> = r
            .neighbors()
            .iter()
            .map(|&j| p.region(j).pattern().to_string())
            .collect();
        out += &format!(
            "{} | {} | {} | {:?}\n",
            r.pattern(),
            facets.join(","),
            neighbours.join(","),
            r.volume()
        );
    }
    out
}

fn timely_opts(shards: usize) -> TimelyOptions {
    TimelyOptions {
        shards,
        ..Default::default()
    }
}

#[test]
fn worker_threads_give_the_single_run() {
    let (net, domain) = (net(), domain());
    let single = summary(&enumerate(&net, &domain, &EnumOptions::default()).unwrap());
    for workers in [1, 2, 4] {
        let reports = timely_run(timely::Config::process(workers), &net, &domain, &timely_opts(6)).unwrap();
        assert_eq!(reports.len(), workers);
        let merged = reports[0].partition.as_ref().expect("worker 0 gathers");
        assert_eq!(summary(merged), single, "{workers} workers");
        assert!(reports[1..].iter().all(|r| r.partition.is_none()));
        // Every shard ran once, somewhere; every piece was sent once.
        let mut shards: Vec<usize> = reports.iter().flat_map(|r| r.shards.clone()).collect();
        shards.sort_unstable();
        assert_eq!(shards, (0..6).collect::<Vec<_>>());
        let merged_here: usize = reports.iter().map(|r| r.merged).sum();
        assert_eq!(merged_here, merged.len(), "each pattern is merged by one owner");
        assert!(reports.iter().map(|r| r.pieces_sent).sum::<usize>() >= merged.len());
    }
}

#[test]
fn progress_counts_every_piece_and_cancel_stops_every_worker() {
    let (net, domain) = (net(), domain());
    let seen = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(None));
    let (s, l) = (Arc::clone(&seen), Arc::clone(&last));
    let progress: cpwl::run::ProgressFn = Arc::new(move |p: &Progress| {
        s.fetch_add(1, Ordering::Relaxed);
        *l.lock().unwrap() = Some((p.done, p.pending));
    });
    let mut opts = timely_opts(5);
    opts.run.progress = Some(progress);
    let reports = timely_run(timely::Config::process(2), &net, &domain, &opts).unwrap();
    let pieces: usize = reports.iter().map(|r| r.pieces_sent).sum();
    assert_eq!(seen.load(Ordering::Relaxed), 5, "one report per shard");
    assert_eq!(*last.lock().unwrap(), Some((pieces, Some(0))));

    // A cancel flag set before the start: no shard runs, every worker stops.
    let cancel = Arc::new(AtomicBool::new(true));
    let mut opts = timely_opts(5);
    opts.run.cancel = Some(Arc::clone(&cancel));
    let reports = timely_run(timely::Config::process(3), &net, &domain, &opts).unwrap();
    assert_eq!(reports.len(), 3);
    for r in &reports {
        assert_eq!(r.outcome, Outcome::Cancelled);
        assert!(r.partition.is_none() && r.shards.is_empty());
    }
}

/// One process of a multi-process run (does nothing unless started by
/// `run_processes`): enumerates its shards and its range of LC points, and
/// on worker 0 writes the merged results.
#[test]
#[ignore = "a worker process of the multi-process tests"]
fn worker_process() {
    let Ok(spec) = std::env::var(ROLE) else { return };
    let parts: Vec<&str> = spec.split('|').collect();
    let (args, out) = (parts[0], PathBuf::from(parts[1]));
    let config = timely::Config::from_args(args.split(' ').map(String::from)).unwrap();
    let guards = timely::execute(config, move |worker| {
        let (net, domain) = (net(), domain());
        let report = timely_worker(worker, &net, &domain, &timely_opts(7)).unwrap();
        let pts = points();
        let lc = gather_points(worker, pts.nrows(), |r| Ok(lc_rows(&net, pts.slice(s![r, ..])))).unwrap();
        if let (Some(p), Some(lc)) = (report.partition, lc) {
            fs::write(out.join("partition.txt"), summary(&p)).unwrap();
            fs::write(out.join("lc.txt"), format!("{lc:?}")).unwrap();
        }
    })
    .unwrap();
    for g in guards.join() {
        g.unwrap();
    }
}

/// Children killed when dropped, so that a failing test leaves none behind.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Free loopback ports: bound to port 0, then released for timely.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

fn run_processes(n: usize) {
    let dir = std::env::temp_dir().join(format!("cpwl-shard-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let hosts: String = free_ports(n).iter().map(|p| format!("127.0.0.1:{p}\n")).collect();
    let hostfile = dir.join("hosts.txt");
    fs::write(&hostfile, hosts).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut children = Children(Vec::new());
    for p in 0..n {
        let args = format!("-w 1 -n {n} -p {p} -h {}", hostfile.display());
        let log = fs::File::create(dir.join(format!("process-{p}.log"))).unwrap();
        let child = Command::new(&exe)
            .args([
                "worker_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, format!("{args}|{}", dir.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        children.0.push(child);
    }
    wait_all(&mut children, &dir);
    let (net, domain) = (net(), domain());
    let single = summary(&enumerate(&net, &domain, &EnumOptions::default()).unwrap());
    assert_eq!(
        fs::read_to_string(dir.join("partition.txt")).unwrap(),
        single,
        "{n} processes"
    );
    let lc = lc_rows(&net, points().view());
    assert_eq!(
        fs::read_to_string(dir.join("lc.txt")).unwrap(),
        format!("{lc:?}"),
        "{n} processes"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// Waits for every child to exit successfully, killing them all (and
/// failing with their logs) past the deadline or at the first failure.
fn wait_all(children: &mut Children, dir: &Path) {
    let n = children.0.len();
    let logs = || {
        (0..n)
            .map(|p| fs::read_to_string(dir.join(format!("process-{p}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    let start = Instant::now();
    let mut done = vec![false; children.0.len()];
    while done.iter().any(|d| !d) {
        for (i, c) in children.0.iter_mut().enumerate() {
            if let Some(status) = c.try_wait().unwrap() {
                assert!(status.success(), "process {i} failed: {status}\n{}", logs());
                done[i] = true;
            }
        }
        assert!(
            start.elapsed() < PROCESS_DEADLINE,
            "processes hung; killed\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_processes_give_the_single_run() {
    run_processes(2);
}

#[test]
fn three_processes_give_the_single_run() {
    run_processes(3);
}
