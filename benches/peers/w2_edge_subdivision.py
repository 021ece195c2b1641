"""W2 peer: edge subdivision (Berzins, ICML 2023) generalised to boxes in d dimensions.

Written from the paper's description ("Polyhedral complex extraction from
ReLU networks using edge subdivision"), PyTorch f64 on the CPU:

* the complex is kept as its vertices and edges only, starting from the box
  [-h, h]^d (2^d vertices, d 2^(d-1) edges);
* per hidden layer, the pre-activations of ALL current vertices come from one
  batched product (the previous layer's values at every vertex, activated,
  times W^T plus b); within the layer every edge lies in one region of the
  earlier layers, where the layer is affine, so new vertices get their values
  by interpolation;
* per unit of the layer: every edge whose endpoints have strictly opposite
  signs is split at the zero; the new edges are the unit's traces on the
  2-faces it cuts: every 2-face is named by its sign vector (its "face key"),
  and a cut 2-face has exactly two new vertices on its boundary, which are
  joined;
* regions are read off at the end, each once, from its lowest vertex along a
  generic direction c: the edges at a simple vertex lie on d "lines" (a
  line bends at the vertex where a later unit bends at an earlier one, so
  it can carry two upward edges, or none); a region around the vertex takes
  one edge per line, and the vertex is its lowest when all of them go up;
  the region's pattern is a forward pass at the average of the vertex and
  those d neighbours (a point inside the region).

Face keys. Every constraint (the 2d box facets, then the hidden units in
pattern order) has a random 64-bit number r_i; a face's key is
sum_i s_i r_i (wrapping), with s_i in {+1, 0, -1} its sign for constraint i
(box facets: +1 inside, 0 on). An edge lies on d - 1 constraints (its zero
set, stored per edge); the 2-faces that contain edge e are e's sign vector
with one zero k turned into +1 or -1 (box facets: +1 only), so their keys
are key(e) +- r_k. A key seen other than twice, a vertex exactly on a unit's
hyperplane, or a vertex with other than d upward-or-downward lines is a
degenerate position: counted and reported (none on the W2 networks).

The pattern set is compared with cpwl's: both sides print
`patterns_sha256=`, the SHA-256 of the sorted pattern strings (one `0`/`1`
per hidden unit in layer order, `1` iff the pre-activation is > 0), each
followed by a newline.

Usage: python w2_edge_subdivision.py [--dims 3 4 6 8] [--half-widths ...] [--boxes spec|peers]
       [--methods lp skeleton] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import sys

import numpy as np
import torch

import workloads
from common import report_ratio, run_cpwl, set_torch_threads, stopwatch
from w1_slice import Growable, GrowableColumns, activate, restrict_to_plane

FACE_SEED = 12  # the random face-key numbers r_i
DIRECTION_SEED = 13  # the generic direction c of the read-off


def patterns_sha256(bits: np.ndarray) -> str:
    """SHA-256 of the sorted pattern strings, one per row of 0/1 `bits`, newline-terminated.

    The same text as `examples/peer.rs`'s `patterns_sha256=` line.
    """
    chars = np.where(bits.astype(bool), ord("1"), ord("0")).astype(np.uint8)
    lines = sorted(row.tobytes() for row in chars)
    h = hashlib.sha256()
    for line in lines:
        h.update(line)
        h.update(b"\n")
    return h.hexdigest()


def box_skeleton(dim: int, h: float):
    """Vertices, edges (endpoint pairs) and edges' zero sets (box-facet ids) of [-h, h]^dim.

    Facet 2i is x_i = -h, facet 2i + 1 is x_i = +h.
    """
    corners = torch.tensor([[(v >> i) & 1 for i in range(dim)] for v in range(1 << dim)], dtype=torch.int64)
    verts = (2 * corners - 1).to(torch.float64) * h  # exact +-h in f64
    ends, zeros = [], []
    for v in range(1 << dim):
        for i in range(dim):
            if not (v >> i) & 1:
                ends.append([v, v | (1 << i)])
                zeros.append([2 * k + ((v >> k) & 1) for k in range(dim) if k != i])
    return verts, torch.tensor(ends, dtype=torch.int64), torch.tensor(zeros, dtype=torch.int64).reshape(len(ends), dim - 1)


class BoxSkeleton:
    """Vertices and edges of the complex of an MLP in a box, refined unit by unit."""

    def __init__(self, weights, biases, act, slope, dim: int, h: float):
        self.weights = [torch.as_tensor(w, dtype=torch.float64) for w in weights]
        self.biases = [torch.as_tensor(b, dtype=torch.float64) for b in biases]
        self.act, self.slope, self.dim = act, slope, dim
        n_units = sum(w.shape[0] for w in self.weights[:-1])
        gen = torch.Generator().manual_seed(FACE_SEED)
        self.r = torch.randint(-(2**62), 2**62, (2 * dim + n_units,), generator=gen, dtype=torch.int64)
        self.n_box = 2 * dim
        verts, ends, zeros = box_skeleton(dim, h)
        self.pos = Growable(verts)
        self.ends = Growable(ends)
        self.zeros = Growable(zeros)
        # Box facets: +1 inside, 0 on; the edge is on its zero set's facets.
        all_box = self.r[: self.n_box].sum()
        self.key = Growable(all_box - self.r[zeros].sum(dim=1))
        self.values = None  # GrowableColumns: this layer's pre-activations, unit-major
        self.anomalies = {"vertex_on_hyperplane": 0, "face_key_not_twice": 0, "nonsimple_readoff": 0}

    # -- building

    def run(self) -> None:
        unit_id = self.n_box
        for layer in range(len(self.weights) - 1):
            self.layer_values(layer)
            for j in range(self.weights[layer].shape[0]):
                self.split_unit(j, unit_id)
                unit_id += 1

    def layer_values(self, layer: int) -> None:
        """Pre-activations of `layer` at every vertex: one batched product."""
        if layer == 0:
            inputs = self.pos.view()
        else:
            inputs = activate(self.act, self.slope, self.values.view().T)
        z = torch.addmm(self.biases[layer], inputs, self.weights[layer].T)
        self.values = GrowableColumns(z)

    def split_unit(self, j: int, unit_id: int) -> None:
        zj = self.values.view()[j]
        ends = self.ends.view()
        za, zb = zj[ends[:, 0]], zj[ends[:, 1]]
        self.anomalies["vertex_on_hyperplane"] += int(((za == 0) | (zb == 0)).sum())
        pos_a, pos_b = za > 0, zb > 0
        cut = torch.nonzero(pos_a != pos_b).squeeze(1)
        key_before = self.key.view()[cut].clone()
        zeros_cut = self.zeros.view()[cut]
        new_ids = self.new_vertices(cut, za[cut], zb[cut], j)
        # Every old edge now has a sign for this unit (the halves of a cut
        # edge: their own endpoint's sign); the new edges lie on the unit (0).
        side_a = torch.where(pos_a, 1, -1).to(torch.int64)
        self.key.view().add_(side_a * self.r[unit_id])
        self.halve_edges(cut, new_ids, pos_b[cut], key_before, zeros_cut, unit_id)
        self.join_faces(new_ids, key_before, zeros_cut, unit_id)

    def new_vertices(self, cut, za, zb, j: int) -> torch.Tensor:
        """Appends the zeros of the unit on the cut edges (positions and layer values)."""
        ends = self.ends.view()[cut]
        a, b = ends[:, 0], ends[:, 1]
        t = (za / (za - zb)).unsqueeze(1)
        pos = self.pos.view()
        start = self.pos.n
        self.pos.append(torch.lerp(pos[a], pos[b], t))
        vals = self.values.view()
        new_vals = torch.lerp(vals[:, a], vals[:, b], t.T)
        new_vals[j] = 0.0
        self.values.append(new_vals)
        return torch.arange(start, self.pos.n, dtype=torch.int64)

    def halve_edges(self, cut, new_ids, pos_b, key_before, zeros_cut, unit_id: int) -> None:
        """Edge (a, b) becomes (a, new) in place (its key already updated) and (new, b) appended."""
        ends = self.ends.view()
        b = ends[cut, 1].clone()
        ends[cut, 1] = new_ids
        self.ends.append(torch.stack([new_ids, b], dim=1))
        self.zeros.append(zeros_cut)
        self.key.append(key_before + torch.where(pos_b, 1, -1).to(torch.int64) * self.r[unit_id])

    def join_faces(self, new_ids, key_before, zeros_cut, unit_id: int) -> None:
        """Joins the two new vertices of every cut 2-face (same face key)."""
        if new_ids.numel() == 0:
            return
        rows = new_ids.numel()
        d1 = zeros_cut.shape[1]
        term = self.r[zeros_cut]  # rows x (d - 1)
        keys = torch.cat([key_before[:, None] + term, key_before[:, None] - term], dim=1)
        keep = torch.cat([torch.ones_like(zeros_cut, dtype=torch.bool), zeros_cut >= self.n_box], dim=1)
        row = torch.arange(rows).repeat_interleave(2 * d1).reshape(rows, 2 * d1)
        slot = torch.arange(2 * d1).repeat(rows, 1) % d1
        keys, row, slot = keys[keep], row[keep], slot[keep]
        keys, order = torch.sort(keys, stable=True)
        row, slot = row[order], slot[order]
        same = keys[1:] == keys[:-1]
        pair = torch.nonzero(same).squeeze(1)
        in_pair = torch.zeros(keys.numel(), dtype=torch.bool)
        in_pair[pair] = True
        in_pair[pair + 1] = True
        triple = same[1:] & same[:-1]
        self.anomalies["face_key_not_twice"] += int((~in_pair).sum()) + int(triple.sum())
        first, second = row[pair], row[pair + 1]
        self.ends.append(torch.stack([new_ids[first], new_ids[second]], dim=1))
        zeros = zeros_cut[first].clone()
        zeros[torch.arange(pair.numel()), slot[pair]] = unit_id
        self.zeros.append(zeros)
        self.key.append(keys[pair])

    # -- reading the regions off

    def region_points(self) -> torch.Tensor:
        """One interior point per region: its lowest vertex and one upward edge per line there, averaged.

        The rays at a vertex v lie on d "lines" (each an edge zero set, one
        constraint of v's d zeros dropped); a line is bent at v when a
        later unit bends at an earlier one there, so it can carry two upward
        rays, or none. A region around v takes one ray per line, and v is its
        lowest vertex when all of them go up: v is the lowest vertex of the
        product over its lines of their upward-ray counts (no region when a
        line has none). Each choice's simplex lies inside its region.
        """
        gen = torch.Generator().manual_seed(DIRECTION_SEED)
        c = torch.randn(self.dim, generator=gen, dtype=torch.float64)
        pos = self.pos.view()
        height = pos @ c
        ends = self.ends.view()
        total = torch.bincount(ends.flatten(), minlength=self.pos.n)
        # A simple vertex inside the box has 2d edges, fewer on the box's faces, never more.
        self.anomalies["nonsimple_readoff"] += int((total > 2 * self.dim).sum() + (total < self.dim).sum())
        a_low = height[ends[:, 0]] < height[ends[:, 1]]
        low = torch.where(a_low, ends[:, 0], ends[:, 1])
        high = torch.where(a_low, ends[:, 1], ends[:, 0])
        line = self.r[self.zeros.view()].sum(dim=1)  # names the edge's line by its zero set
        order = torch.argsort(line, stable=True)
        order = order[torch.argsort(low[order], stable=True)]
        low, high, line = low[order], high[order], line[order]
        starts = torch.ones(low.numel(), dtype=torch.bool)
        starts[1:] = (low[1:] != low[:-1]) | (line[1:] != line[:-1])
        first = torch.nonzero(starts).squeeze(1)  # first ray of each (vertex, line)
        count = torch.diff(first, append=torch.tensor([low.numel()]))
        lines_up = torch.bincount(low[first], minlength=self.pos.n)
        complete = (lines_up == self.dim)[low[first]]
        first = first[complete].reshape(-1, self.dim)
        count = count[complete].reshape(-1, self.dim)
        sums = pos[low[first[:, 0]]]
        row = torch.arange(first.shape[0])
        for k in range(self.dim):  # one upward ray per line, every combination
            n = count[row, k]
            row = row.repeat_interleave(n)
            sums = sums.repeat_interleave(n, dim=0)
            offset = torch.arange(row.numel()) - (torch.cumsum(n, 0) - n).repeat_interleave(n)
            sums = sums + pos[high[first[row, k] + offset]]
        return sums / (self.dim + 1)

    def patterns(self, points: torch.Tensor) -> torch.Tensor:
        """0/1 pattern of every point (`1` iff the pre-activation is > 0), one forward pass."""
        bits, h = [], points
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z = torch.addmm(b, h, w.T)
            bits.append(z > 0)
            h = activate(self.act, self.slope, z)
        return torch.cat(bits, dim=1)


def edge_subdivision(weights, biases, act, slope, dim: int, h: float):
    """(skeleton, patterns as a uint8 array, core seconds, full seconds)."""
    with stopwatch() as t:
        sk = BoxSkeleton(weights, biases, act, slope, dim, h)
        sk.run()
        core = t()
        bits = sk.patterns(sk.region_points())
    return sk, bits.to(torch.uint8).numpy(), core, t()


def best_of(repeat: int, *args):
    """The run with the least full time of `repeat` runs (same result every time)."""
    runs = [edge_subdivision(*args) for _ in range(max(1, repeat))]
    return min(runs, key=lambda run: run[3])


def load_case(dim: int, slice_name: str | None):
    """(workload dir, weights, biases, act, slope, cpwl workload name) of a W2 box or a W1/W1b slice.

    A slice's square window [-h, h]^2 in plane coordinates is the box
    [-h, h]^2 of the network restricted to the plane (first layer W u, W v,
    W x0 + b), so the same box code runs it.
    """
    if slice_name is None:
        d = workloads.workload_dir(f"w2/d{dim}")
        weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
        return d, weights, biases, act, slope, "w2"
    d = workloads.ensure(slice_name)
    weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
    with np.load(d / "slice.npz") as s:
        rw, rb = restrict_to_plane(weights, biases, s["x0"], s["u"], s["v"])
    return d, rw, rb, act, slope, "w1"


def run_box(dim: int, h: float, repeat: int, methods: list[str], slice_name: str | None = None) -> bool:
    """Runs the peer (and cpwl's methods) on one box; False when a pattern set differs."""
    d, weights, biases, act, slope, workload = load_case(dim, slice_name)
    sk, bits, core, full = best_of(repeat, weights, biases, act, slope, dim, h)
    regions = bits.shape[0]
    unique = np.unique(np.packbits(bits, axis=1), axis=0).shape[0]
    digest = patterns_sha256(bits)
    arch = '-'.join(str(w.shape[1]) for w in weights) + f"-{weights[-1].shape[0]} {act}"
    print(f"\n== {slice_name or 'W2'} d = {dim}, box [-{h:g}, {h:g}]^{dim}, {arch} ==")
    print(f"edge subdivision (torch f64, best of {repeat}): regions {regions} ({unique} distinct patterns), "
          f"vertices {sk.pos.n}, edges {sk.ends.n}, anomalies {sk.anomalies}")
    print(f"  core {core:.4f} s, with patterns {full:.4f} s ({1e6 * full / max(regions, 1):.2f} us/region)")
    print(f"peer_seconds={full}\npeer_regions={regions}\npeer_patterns_sha256={digest}")
    ok = True
    for method in methods:
        cpwl = run_cpwl(workload, d, h, method, repeat=repeat)
        report_ratio(f"edge subdivision vs cpwl {method}", full, cpwl)
        if cpwl is None or "patterns_sha256" not in cpwl:
            continue
        same = cpwl["patterns_sha256"] == digest and int(cpwl["regions"]) == regions
        print(f"  regions: peer {regions}, cpwl {method} {cpwl['regions']}; pattern sets {'SAME' if same else 'DIFFERENT'}")
        ok &= same
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", type=int, nargs="+", default=[d for d, _ in workloads.W2_DIMS_AND_HALF_WIDTHS])
    ap.add_argument("--half-widths", type=float, nargs="+",
                    help="one per dimension (default: --boxes)")
    ap.add_argument("--boxes", choices=["spec", "peers"], default="spec",
                    help="spec: h = 0.1, 0.04, 0.025, 0.015 (a few hundred regions on these networks); "
                         "peers: about twice those (a few thousand, as w2_lp_walk.py)")
    ap.add_argument("--methods", nargs="*", default=["lp"],
                    help="cpwl's methods by name, each run after the peer (lp, auto, skeleton once it exists; "
                         "none: the peer alone)")
    ap.add_argument("--slice", choices=["w1", "w1b"],
                    help="the W1 (or W1b) slice instead, windows [-h, h]^2 from --half-widths (cpwl: plane_split by default)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many peer runs")
    # Thousands of small tensor operations: torch's intra-op threads barely
    # help and slow them down many times on a busy machine (as w1_slice.py).
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    set_torch_threads(args.threads)
    ok = True
    if args.slice:
        methods = args.methods if args.methods != ["lp"] else ["plane_split"]
        for h in args.half_widths or workloads.W1_HALF_WIDTHS:
            ok &= run_box(2, h, args.repeat, methods, args.slice)
        return 0 if ok else 1
    workloads.ensure("w2")
    boxes = dict(workloads.W2_DIMS_AND_HALF_WIDTHS) if args.boxes == "peers" else workloads.W2_SPEC_HALF_WIDTHS
    widths = args.half_widths or [boxes[d] for d in args.dims]
    if len(widths) != len(args.dims):
        ap.error("give one half-width per dimension")
    for dim, h in zip(args.dims, widths):
        ok &= run_box(dim, h, args.repeat, args.methods)
    print(f"torch threads {torch.get_num_threads()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
