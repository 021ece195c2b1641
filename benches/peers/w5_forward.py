"""W5 peer: batched forward + patterns, and exact Jacobians by the chain rule, in PyTorch f64.

4096 points uniform in [0, 1]^784 through the W1 network (784-200-200-200-10
ReLU), as `target/peers/w5/` (see workloads.py):

* forward + patterns: per hidden layer one `addmm` (z = h W^T + b), the
  pattern `z > 0` kept as one byte per unit, `h = relu(z)`;
* Jacobians (10 x 784 per point), the chain rule in reverse: G = W_out
  (10 x 200) masked by the last hidden layer's pattern, then for each earlier
  layer G <- (G W_l) masked by that layer's pattern, the 4096 x 10 rows of G
  through one GEMM per layer, finally G W_1 (4096 x 10 x 784), which is
  J = W_L D_{L-1} W_{L-1} ... D_1 W_1 for every point at once.

Both sides are timed the same way (the computation alone): untimed runs for
at least --warmup seconds (at least one), then the least and the median of
--repeat runs; the crate's side runs on the same files (`peer w5 <dir>
forward|jacobians <threads> <repeat> <warmup>`), and the checksums are
compared: the sum of the outputs, the number of active units, and for
Jacobians their sum and absolute sum (relative difference below 1e-9 is the
same result up to summation order). The ratio compares the least times; a
single untimed call was not enough for the crate's side in a fresh process
(see `W5_WARMUP_SECONDS` in examples/peer.rs).

Usage: python w5_forward.py [--modes forward jacobians] [--repeat 5] [--warmup 1.0] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import workloads
from common import report_ratio, run_cpwl, set_torch_threads, stopwatch

SAME_REL = 1e-9  # checksums closer than this (relative) are the same result


def forward_patterns(weights, biases, x):
    """(outputs, patterns as points x units uint8)."""
    bits, h = [], x
    for w, b in zip(weights[:-1], biases[:-1]):
        z = torch.addmm(b, h, w.T)
        bits.append(z > 0)
        h = torch.relu(z)
    out = torch.addmm(biases[-1], h, weights[-1].T)
    return out, torch.cat(bits, dim=1).to(torch.uint8)


def jacobians(weights, biases, x):
    """(outputs, patterns, Jacobians points x outputs x inputs) by the reverse chain rule."""
    out, patterns = forward_patterns(weights, biases, x)
    n, n_out = x.shape[0], weights[-1].shape[0]
    widths = [w.shape[0] for w in weights[:-1]]
    masks = torch.split(patterns.to(x.dtype), widths, dim=1)
    g = weights[-1].unsqueeze(0) * masks[-1].unsqueeze(1)  # n x out x width
    for layer in range(len(weights) - 2, 0, -1):
        g = (g.reshape(n * n_out, -1) @ weights[layer]).reshape(n, n_out, -1) * masks[layer - 1].unsqueeze(1)
    jac = (g.reshape(n * n_out, -1) @ weights[0]).reshape(n, n_out, -1)
    return out, patterns, jac


def checksums(mode: str, result) -> dict[str, float]:
    sums = {"output_sum": float(result[0].sum()), "pattern_ones": float(result[1].sum(dtype=torch.int64))}
    if mode == "jacobians":
        sums["jacobian_sum"] = float(result[2].sum())
        sums["jacobian_abs_sum"] = float(result[2].abs().sum())
    return sums


def best_of(fn, repeat: int, warmup: float, *args):
    """(least seconds, median seconds, last result) of `repeat` runs after
    untimed runs for at least `warmup` seconds (at least one)."""
    start = time.perf_counter()
    with torch.inference_mode():
        while True:
            fn(*args)
            if time.perf_counter() - start >= warmup:
                break
    times, result = [], None
    for _ in range(max(1, repeat)):
        result = None  # free the previous run's arrays before the next one
        with torch.inference_mode(), stopwatch() as t:
            result = fn(*args)
        times.append(t())
    times.sort()
    return times[0], times[len(times) // 2], result


def compare(sums: dict[str, float], cpwl: dict[str, str] | None) -> bool:
    if cpwl is None:
        return True
    ok = True
    for key, mine in sums.items():
        if key not in cpwl:
            continue
        theirs = float(cpwl[key])
        rel = abs(mine - theirs) / max(abs(mine), abs(theirs), 1e-300)
        ok &= rel <= SAME_REL
        print(f"  {key}: peer {mine!r}, cpwl {theirs!r}, rel diff {rel:.1e} -> {'SAME' if rel <= SAME_REL else 'DIFFERENT'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", nargs="+", default=["forward", "jacobians"], choices=["forward", "jacobians"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warmup", type=float, default=1.0, help="untimed seconds before the timed runs (both sides)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--points", type=int, default=workloads.W5_POINTS, help="first rows of points.npy (peer only)")
    ap.add_argument("--no-cpwl", action="store_true", help="the peer alone")
    args = ap.parse_args()
    set_torch_threads(args.threads)
    d = workloads.ensure("w5")
    weights, biases, _, _ = workloads.load_mlp(d / "net.npz")
    weights = [torch.as_tensor(w) for w in weights]
    biases = [torch.as_tensor(b) for b in biases]
    x = torch.as_tensor(np.load(d / "points.npy")[: args.points])
    print(f"W5: {x.shape[0]} x {x.shape[1]} through {'-'.join(str(w.shape[1]) for w in weights)}-{weights[-1].shape[0]}, "
          f"torch f64, threads {torch.get_num_threads()}")
    ok = True
    for mode in args.modes:
        fn = forward_patterns if mode == "forward" else jacobians
        secs, median, result = best_of(fn, args.repeat, args.warmup, weights, biases, x)
        sums = checksums(mode, result)
        del result
        print(f"\n== W5 {mode} ==\npeer (torch f64, {args.warmup} s warm-up, best of {args.repeat}): {secs:.4f} s "
              f"(median {median:.4f} s); checksums {sums}")
        if args.no_cpwl or x.shape[0] != workloads.W5_POINTS:
            continue
        cpwl = run_cpwl("w5", d, mode, args.threads, args.repeat, args.warmup)
        if cpwl is not None and "cpwl_median_seconds" in cpwl:
            print(f"cpwl median {float(cpwl['cpwl_median_seconds']):.4f} s after {cpwl.get('warmup_runs')} warm-up runs")
        report_ratio(f"W5 {mode}: torch vs cpwl", secs, cpwl)
        ok &= compare(sums, cpwl)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
