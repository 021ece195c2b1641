"""Helpers shared by the peer scripts: the cpwl side, timing, reporting."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

from workloads import repo_root

CPWL_TIMEOUT_S = 3600


def run_cpwl(workload: str, *args, repeat: int = 1) -> dict[str, str] | None:
    """Runs `cargo run --release --example peer -- <workload> <args...>` (or $CPWL_PEER_CMD).

    `repeat` > 1 times the computation that many times in the one process
    (`CPWL_PEER_REPEAT`): `cpwl_seconds` is then the least, as the peers' "best
    of `repeat`", and `cpwl_first_seconds` the first (cold) run. Returns the
    `key=value` lines it printed, or None (after saying why) when the example
    is missing or fails; the peer side is reported either way.
    """
    override = os.environ.get("CPWL_PEER_CMD")  # e.g. a prebuilt target/release/examples/peer
    base = shlex.split(override) if override else ["cargo", "run", "--quiet", "--release", "--example", "peer", "--"]
    cmd = [*base, workload, *map(str, args)]
    print(f"[cpwl] {' '.join(cmd)}", flush=True)
    try:
        env = {**os.environ, "CPWL_PEER_REPEAT": str(max(1, repeat))}
        proc = subprocess.run(cmd, cwd=repo_root(), env=env, capture_output=True, text=True,
                              timeout=CPWL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        print(f"[cpwl] side missing: {err}")
        return None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        print(f"[cpwl] side missing (exit {proc.returncode}): {tail}")
        return None
    result = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and " " not in key:
            result[key] = value
    if "cpwl_seconds" not in result:
        print("[cpwl] side missing: no cpwl_seconds= line in its output")
        return None
    return result


def report_ratio(label: str, peer_seconds: float, cpwl: dict[str, str] | None) -> None:
    """Prints peer and cpwl timings and peer/cpwl (same work on both sides)."""
    if cpwl is None:
        print(f"{label}: peer {peer_seconds:.4f} s; cpwl side missing")
        return
    cpwl_seconds = max(float(cpwl["cpwl_seconds"]), 1e-9)
    print(f"{label}: peer {peer_seconds:.4f} s, cpwl {cpwl_seconds:.4f} s, ratio peer/cpwl {peer_seconds / cpwl_seconds:.2f}")
    report_cold(cpwl)


def report_cold(cpwl: dict[str, str]) -> None:
    """The cpwl side's first (cold) run, when it timed more than one."""
    if int(cpwl.get("cpwl_runs", "1")) > 1:
        print(f"  cpwl first (cold) run {float(cpwl['cpwl_first_seconds']):.4f} s, "
              f"best of {cpwl['cpwl_runs']} {float(cpwl['cpwl_seconds']):.4f} s")


@contextmanager
def stopwatch():
    """`with stopwatch() as t: ...` then `t()` gives the elapsed seconds."""
    start = time.perf_counter()
    end = [None]
    yield lambda: (end[0] if end[0] is not None else time.perf_counter()) - start
    end[0] = time.perf_counter()


def set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    # Inter-op threads must be set before any parallel work; ignore if too late.
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def shared_vectors_dir() -> Path | None:
    """The shared test vectors, if this checkout has them beside it."""
    for candidate in (os.environ.get("CPWL_VECTORS"), repo_root() / "shared" / "vectors",
                      repo_root().parent / "shared" / "vectors"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def vectors_pass(what: str, check) -> bool:
    """Runs `check(vectors_dir)` on the shared vectors, saying what it checks;
    False when they are missing or a check fails."""
    vec = shared_vectors_dir()
    if vec is None:
        print("shared vectors not found (set CPWL_VECTORS)")
        return False
    print(f"checking {what}:")
    return check(vec)


def load_cpwl_array(cpwl: dict[str, str] | None, key: str):
    """The .npy file named by the cpwl side's `key=` line, or None (saying why)."""
    if cpwl is None or key not in cpwl:
        return None
    try:
        import numpy as np

        return np.load(cpwl[key])
    except (OSError, ValueError) as err:
        print(f"  cannot read {key}={cpwl[key]}: {err}")
        return None
