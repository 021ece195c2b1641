"""W2 peer: linear regions of an MLP in a box by an LP walk over activation patterns.

The plain method of the literature (e.g. Serra et al. 2018's region
enumeration, Xu et al.'s and Zhang & Wu's BFS over the dual graph), with every
decision made by scipy.optimize.linprog (HiGHS), no cheap tests:

* a region is an activation pattern; given the pattern every pre-activation is
  affine in x, and the region is {x in box : sign constraints of all hidden units};
* one Chebyshev LP per pattern (largest inscribed ball): the pattern is a
  region when the radius exceeds 1e-9 times the box diameter;
* one LP per hidden-unit constraint to decide whether it is a facet (maximise
  the constraint's left side with that constraint removed: a facet iff the
  optimum exceeds its bound); identical constraints (duplicate units) are
  tested and flipped together;
* each facet's unit(s) are flipped to reach the neighbour (falling back to a
  forward pass just across the facet's centre when the flip alone is not a
  region); a hash set of patterns prevents revisits; breadth-first from the
  pattern of the box centre.

Every LP is counted. The full walk takes minutes per network on our machines,
so by default it stops after --max-regions regions and compares time per
region with the crate (whose walk is complete); --full runs it to the end.

Usage: python w2_lp_walk.py [--dims 3 4 6 8] [--max-regions 50 | --full] [--check-vectors]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import deque

import numpy as np
from scipy.optimize import linprog

import workloads
from common import run_cpwl, stopwatch, vectors_pass

RADIUS_REL_TOL = 1e-9
FACET_REL_TOL = 1e-9
STEP_REL = 1e-7


class LpWalk:
    def __init__(self, weights, biases, act, slope, lo, hi):
        self.weights, self.biases, self.act, self.slope = weights, biases, act, slope
        self.dim = weights[0].shape[1]
        self.lo = np.full(self.dim, lo, dtype=np.float64)
        self.hi = np.full(self.dim, hi, dtype=np.float64)
        self.diameter = float(np.linalg.norm(self.hi - self.lo))
        self.lps = 0
        self.thin = 0
        self.fallbacks = 0
        self.lost_facets = 0
        self.box_rows = np.vstack([np.eye(self.dim), -np.eye(self.dim)])
        self.box_rhs = np.concatenate([self.hi, -self.lo])

    # -- network pieces

    def slopes(self, bits: np.ndarray) -> np.ndarray:
        if self.act == "relu":
            return bits.astype(np.float64)
        return np.where(bits, 1.0, self.slope if self.act == "leaky_relu" else -1.0)

    def pattern_at(self, x: np.ndarray) -> bytes:
        bits, h = [], x
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z = w @ h + b
            on = z > 0
            bits.append(on)
            h = self.slopes(on) * z
        return np.concatenate(bits).astype(np.uint8).tobytes()

    def constraints(self, pattern: bytes):
        """Rows G x <= g, one per hidden unit, in pattern order."""
        bits = np.frombuffer(pattern, dtype=np.uint8).astype(bool)
        rows, rhs, start = [], [], 0
        a, c = np.eye(self.dim), np.zeros(self.dim)
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            za, zc = w @ a, w @ c + b
            on = bits[start: start + w.shape[0]]
            sign = np.where(on, 1.0, -1.0)
            rows.append(-sign[:, None] * za)
            rhs.append(sign * zc)
            d = self.slopes(on)
            a, c = d[:, None] * za, d * zc
            start += w.shape[0]
        return np.vstack(rows), np.concatenate(rhs)

    # -- LPs

    def lp(self, cost, a_ub, b_ub, a_eq=None, b_eq=None, bounds=None):
        self.lps += 1
        return linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")

    def chebyshev(self, g, rhs, a_eq=None, b_eq=None):
        """(centre, radius) of the largest ball in {G x <= g} within the box."""
        a = np.vstack([g, self.box_rows])
        b = np.concatenate([rhs, self.box_rhs])
        norms = np.linalg.norm(a, axis=1)
        if a_eq is not None:
            # Ball within the hyperplane: measure distances inside it.
            n = a_eq[0] / np.linalg.norm(a_eq[0])
            norms = np.linalg.norm(a - np.outer(a @ n, n), axis=1)
            a_eq = np.hstack([a_eq, np.zeros((a_eq.shape[0], 1))])
        a_ub = np.hstack([a, norms[:, None]])
        bounds = [(None, None)] * self.dim + [(0, None)]
        res = self.lp(np.r_[np.zeros(self.dim), -1.0], a_ub, b, a_eq, b_eq, bounds)
        if res.status != 0:
            return None, 0.0
        return res.x[: self.dim], float(res.x[-1])

    def facets(self, g, rhs):
        """Groups of unit indices whose (shared) constraint is a facet of the region."""
        unit_rows = g / np.linalg.norm(g, axis=1, keepdims=True)
        unit_rhs = rhs / np.linalg.norm(g, axis=1)
        key = np.round(np.c_[unit_rows, unit_rhs], 12)
        _, group_of = np.unique(key, axis=0, return_inverse=True)
        group_of = group_of.ravel()
        out = []
        for grp in range(group_of.max() + 1):
            members = np.nonzero(group_of == grp)[0]
            i = members[0]
            keep = group_of != grp
            a = np.vstack([g[keep], self.box_rows])
            b = np.concatenate([rhs[keep], self.box_rhs])
            res = self.lp(-g[i], a, b, bounds=[(None, None)] * self.dim)
            if res.status == 0 and -res.fun > rhs[i] + FACET_REL_TOL * np.linalg.norm(g[i]) * self.diameter:
                out.append(members)
        return out

    def radius_of(self, pattern: bytes) -> float:
        """Chebyshev radius of a pattern's cell (one LP per pattern, cached)."""
        if pattern not in self.radius_cache:
            g, rhs = self.constraints(pattern)
            self.radius_cache[pattern] = self.chebyshev(g, rhs)[1]
        return self.radius_cache[pattern]

    def is_region(self, pattern: bytes) -> bool:
        return self.radius_of(pattern) > RADIUS_REL_TOL * self.diameter

    def neighbour(self, pattern: bytes, members, g, rhs) -> bytes | None:
        bits = bytearray(pattern)
        for i in members:
            bits[i] ^= 1
        flipped = bytes(bits)
        if self.is_region(flipped):
            return flipped
        # Degenerate facet: deeper units change too; step across its centre.
        self.fallbacks += 1
        i = members[0]
        centre, _ = self.chebyshev(np.delete(g, members, axis=0), np.delete(rhs, members), g[i:i + 1], rhs[i:i + 1])
        if centre is None:
            return None
        normal = g[i] / np.linalg.norm(g[i])
        other = self.pattern_at(centre + STEP_REL * self.diameter * normal)
        return other if self.is_region(other) else None

    def walk(self, max_regions: int | None = None):
        self.radius_cache = {}
        start = self.pattern_at(0.5 * (self.lo + self.hi))
        rng = np.random.default_rng(0)
        while not self.is_region(start):  # the centre lies on a boundary: any interior point will do
            start = self.pattern_at(self.lo + (self.hi - self.lo) * rng.random(self.dim))
        seen = {start}
        queue = deque([start])
        regions, pairs = [], set()
        while queue and (max_regions is None or len(regions) < max_regions):
            pattern = queue.popleft()
            regions.append(pattern)
            g, rhs = self.constraints(pattern)
            for members in self.facets(g, rhs):
                other = self.neighbour(pattern, members, g, rhs)
                if other is None:  # no region found across this facet
                    self.lost_facets += 1
                    continue
                pairs.add((min(pattern, other), max(pattern, other)))
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
        complete = not queue
        self.thin = sum(1 for r in self.radius_cache.values() if r <= RADIUS_REL_TOL * self.diameter)
        return regions, pairs, complete


def pattern_text(p: bytes) -> str:
    return "".join("1" if c else "0" for c in p)


def check_vectors(vec_dir, max_count: int) -> bool:
    ok_all = True
    for meta in sorted((vec_dir / "regions").glob("pub*.json")):
        spec = json.loads(meta.read_text())
        lp = spec.get("lp")
        if not lp or lp["region_count"] > max_count:
            continue
        weights, biases, act, slope = workloads.load_mlp(meta.with_name(spec["net_file"]))
        walker = LpWalk(weights, biases, act, slope, *lp["box"])
        regions, pairs, _ = walker.walk()
        h = hashlib.sha256("\n".join(sorted(map(pattern_text, regions))).encode()).hexdigest()
        ok = len(regions) == lp["region_count"] and h == lp["pattern_hash"] and len(pairs) == lp["adjacent_pairs"]
        ok_all &= ok
        print(f"  {meta.stem}: expected {lp['region_count']} regions / {lp['adjacent_pairs']} pairs; got {len(regions)} / "
              f"{len(pairs)} ({'hash ok' if h == lp['pattern_hash'] else 'hash differs'}), LPs {walker.lps}, "
              f"fallbacks {walker.fallbacks} -> {'OK' if ok else 'MISMATCH'}")
    return ok_all


def run_dim(dim: int, h: float, max_regions: int | None) -> None:
    d = workloads.workload_dir(f"w2/d{dim}")
    weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
    print(f"\n== W2 d = {dim}, box [-{h:g}, {h:g}]^{dim}, {'-'.join(str(w.shape[1]) for w in weights)}-1 {act} ==")
    walker = LpWalk(weights, biases, act, slope, -h, h)
    with stopwatch() as t:
        regions, pairs, complete = walker.walk(max_regions)
    secs = t()
    n = len(regions)
    print(f"scipy/HiGHS walk: {n} regions ({'complete' if complete else 'stopped at --max-regions'}), {secs:.3f} s, "
          f"{1e3 * secs / max(n, 1):.2f} ms/region, LPs {walker.lps} ({walker.lps / max(n, 1):.1f}/region), "
          f"thin patterns {walker.thin}, fallbacks {walker.fallbacks}, lost facets {walker.lost_facets}" + (f", adjacent pairs {len(pairs)}" if complete else ""))
    cpwl = run_cpwl("w2", d, h)
    if cpwl is None:
        print(f"W2 d={dim}: peer {secs:.3f} s for {n} regions; cpwl side missing")
        return
    cs, cn = float(cpwl["cpwl_seconds"]), int(cpwl.get("regions", 0))
    line = f"W2 d={dim}: peer {secs:.3f} s ({n} regions), cpwl {cs:.4f} s ({cn} regions)"
    if cn and n:
        line += f", ratio peer/cpwl per region {(secs / n) / (cs / cn):.1f}"
    if complete and cn:
        line += f", whole walk {secs / cs:.1f}; regions {'SAME' if cn == n else 'DIFFERENT'}"
    print(line)
    for key in ("lps", "lps_skipped", "thin"):
        if key in cpwl:
            print(f"  cpwl {key} = {cpwl[key]}" + (f" ({int(cpwl[key]) / cn:.2f}/region)" if key == "lps" and cn else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", type=int, nargs="+", default=[d for d, _ in workloads.W2_DIMS_AND_HALF_WIDTHS])
    ap.add_argument("--max-regions", type=int, default=50)
    ap.add_argument("--full", action="store_true", help="walk every region (slow)")
    ap.add_argument("--check-vectors", action="store_true")
    ap.add_argument("--check-max-regions", type=int, default=700)
    args = ap.parse_args()
    if args.check_vectors and not vectors_pass(
        "against shared regions vectors (lp)", lambda vec: check_vectors(vec, args.check_max_regions)
    ):
        return 1
    workloads.ensure("w2")
    half = dict(workloads.W2_DIMS_AND_HALF_WIDTHS)
    for dim in args.dims:
        run_dim(dim, half[dim], None if args.full else args.max_regions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
