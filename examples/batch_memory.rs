//! A fixed run of the batched CPU kernels for memory and instruction counts
//! (`/usr/bin/time -v`, `perf stat`, `valgrind --tool=callgrind`): W3, local
//! complexity of `n` points with P = 25 directions through the
//! 784-200-200-200-10 ReLU MLP of the benches, or W5, forward passes with
//! patterns and exact Jacobians of `n` points through the same network.
//!
//! ```text
//! cargo run --release --example batch_memory -- w3 2000
//! cargo run --release --example batch_memory -- w3 20000 f32
//! cargo run --release --example batch_memory -- w5 4096
//! ```
//!
//! It prints a checksum of the results, so that runs before and after a
//! change can be compared for identical output, and (on Linux) the memory
//! the kernel itself needed: the resident set once the inputs exist, and
//! the peak during the kernel (the peak is reset through
//! `/proc/self/clear_refs` after the inputs are built). For W3 the growth
//! stays the same from 2,000 to 20,000 points: the kernel works in
//! per-thread buffers of a fixed size, and only the counts (a few integers
//! per point) grow with the batch.

#[path = "../benches/common/mod.rs"]
mod bench_common;

use cpwl::backend::{Backend, CpuBackend, Keep, Neighbourhood, Precision};

const WIDTHS: [usize; 5] = [784, 200, 200, 200, 10];
const P: usize = 25;

/// A hash of the bits of `values`, order-sensitive.
fn checksum(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0xcbf2_9ce4_8422_2325, |h, v| {
        (h ^ v).wrapping_mul(0x1000_0000_01b3)
    })
}

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`), where there is one.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> cpwl::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let workload = args.get(1).map_or("w3", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let precision = match args.get(3).map(String::as_str) {
        Some("f32") => Precision::F32,
        _ => Precision::F64,
    };
    let net = bench_common::he_mlp(&WIDTHS, 0);
    let x = bench_common::uniform_points(n, WIDTHS[0], 1);
    let cpu = CpuBackend::default().with_precision(precision);
    // Resetting the peak makes VmHWM the peak of the kernel alone (Linux 4.0+).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS:");
    let sum = match workload {
        "w5" => {
            let fwd = cpu.forward(&net, x.view(), Keep::Patterns)?;
            let jac = cpu.jacobians(&net, x.view())?;
            let patterns = fwd.patterns.iter().flatten().map(|&c| u64::from(c));
            let bits = fwd
                .outputs
                .iter()
                .chain(jac.jacobians.iter())
                .map(|v| v.to_bits());
            checksum(patterns.chain(bits))
        }
        _ => {
            let dirs = bench_common::unit_directions(P, WIDTHS[0], 2);
            let hood = Neighbourhood {
                directions: dirs.view(),
                radius: 0.05,
                count_output: true,
            };
            let counts = cpu.sign_changes(&net, x.view(), hood)?;
            checksum(counts.iter().map(|&c| u64::from(c)))
        }
    };
    println!("{workload} n={n} {precision:?} checksum {sum:016x}");
    if let (true, Some(before), Some(peak)) = (reset, before, status_kib("VmHWM:")) {
        println!(
            "rss_with_inputs_kib={before} peak_rss_during_kernel_kib={peak} kernel_growth_kib={}",
            peak.saturating_sub(before)
        );
    }
    Ok(())
}
