"""W1 peer: the linear regions of a 2-D slice through a ReLU MLP.

Two peers, both written from the published descriptions:

(a) plain polygon splitting in Python/numpy: layer by layer, every current
    polygon carries the affine map from slice coordinates to the layer's
    input; the layer's pre-activations at its vertices give, unit by unit,
    the lines that split it (a convex polygon clipped by a line on both sides).
(b) edge subdivision (Berzins, "Polyhedral complex extraction from ReLU
    networks using edge subdivision", ICML 2023) in PyTorch f64 on the CPU:
    the partition is kept as vertices and edges only; for each neuron in turn
    its pre-activation is evaluated at all vertices, every edge whose
    endpoints have opposite signs is split at the zero, and the new vertices
    that bound a common face are joined by a new edge. Faces are identified
    by their sign vectors, kept as 64-bit random-linear hashes on the edges
    (an edge's hash plus or minus its own line's term names the face on
    either side). Regions are counted with Euler's formula; the full output
    (polygons, patterns, adjacency) is extracted afterwards and timed too.

Both use the convention sign(0) = + (a symbolic perturbation), so a line
through a vertex does not need a special case; with generic weights this never
happens in practice.

Usage: python w1_slice.py [--half-widths 2 10 40] [--skip-plain] [--check-vectors]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

import workloads
from common import report_ratio, run_cpwl, set_torch_threads, shared_vectors_dir, stopwatch

PLAIN_EPS = 1e-12  # relative zero band of a vertex value in the plain splitter
SLIVER_REL_AREA = 1e-12  # faces below this fraction of the window are perturbation artefacts


def slope_of(act: str, slope: float, positive):
    """Per-unit slope of a two-piece activation given which side is active."""
    if act == "relu":
        return positive.astype(np.float64) if isinstance(positive, np.ndarray) else positive.to(torch.float64)
    neg = slope if act == "leaky_relu" else -1.0
    if isinstance(positive, np.ndarray):
        return np.where(positive, 1.0, neg)
    return torch.where(positive, 1.0, neg).to(torch.float64)


def activate(act: str, slope: float, z):
    if act == "relu":
        return torch.clamp_min(z, 0.0)
    if act == "leaky_relu":
        return torch.where(z > 0, z, slope * z)
    return torch.abs(z)


def restrict_to_plane(weights, biases, x0, u, v):
    """The network as a function of slice coordinates (s, t)."""
    w0 = weights[0] @ np.stack([u, v], axis=1)
    b0 = weights[0] @ x0 + biases[0]
    return [w0, *weights[1:]], [b0, *biases[1:]]


def square(h: float) -> np.ndarray:
    return np.array([[-h, -h], [h, -h], [h, h], [-h, h]], dtype=np.float64)


def polygon_area(vertices: np.ndarray) -> float:
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def pattern_hash(patterns: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(patterns)).encode()).hexdigest()


# ------------------------------------------------------------ (a) plain


def clip_both_sides(vertices: np.ndarray, values: np.ndarray, k: int, eps: float):
    """Splits a convex polygon by the zero line of values[:, k] (affine on it)."""
    f = values[:, k]
    n = len(f)
    pos_v, pos_f, neg_v, neg_f = [], [], [], []
    for i in range(n):
        j = (i + 1) % n
        fi, fj = f[i], f[j]
        if fi >= -eps:
            pos_v.append(vertices[i]); pos_f.append(values[i])
        if fi <= eps:
            neg_v.append(vertices[i]); neg_f.append(values[i])
        if (fi > eps and fj < -eps) or (fi < -eps and fj > eps):
            t = fi / (fi - fj)
            p = vertices[i] + t * (vertices[j] - vertices[i])
            q = values[i] + t * (values[j] - values[i])
            q[k] = 0.0
            pos_v.append(p); pos_f.append(q); neg_v.append(p); neg_f.append(q)
    return (np.array(pos_v), np.array(pos_f)), (np.array(neg_v), np.array(neg_f))


def plain_split(weights, biases, act, slope, window):
    """List of (polygon vertices, pattern bits) by plain splitting."""
    polys = [(window, np.eye(2), np.zeros(2), [])]
    for w, b in zip(weights[:-1], biases[:-1]):
        out = []
        for vertices, a, c, bits in polys:
            m_lin = w @ a
            m_off = w @ c + b
            values = vertices @ m_lin.T + m_off
            eps = PLAIN_EPS * (np.abs(m_lin) @ np.abs(vertices).max(axis=0) + np.abs(m_off))
            crossing = np.nonzero((values.max(axis=0) > eps) & (values.min(axis=0) < -eps))[0]
            pieces = [(vertices, values)]
            for k in crossing:
                nxt = []
                for pv, pf in pieces:
                    col = pf[:, k]
                    if col.max() > eps[k] and col.min() < -eps[k]:
                        nxt.extend(clip_both_sides(pv, pf, k, eps[k]))
                    else:
                        nxt.append((pv, pf))
                pieces = nxt
            for pv, pf in pieces:
                # The vertex average of a convex polygon is inside it.
                positive = pf.mean(axis=0) > 0
                d = slope_of(act, slope, positive)
                out.append((pv, d[:, None] * m_lin, d * m_off, bits + [positive]))
        polys = out
    return [(pv, np.concatenate(bits)) for pv, _, _, bits in polys]


# ------------------------------------------------------------ (b) edge subdivision


class Growable:
    """A tensor with spare rows, so appending is amortised O(rows added)."""

    def __init__(self, data: torch.Tensor):
        self.n = data.shape[0]
        self.buf = torch.empty((max(16, 2 * self.n), *data.shape[1:]), dtype=data.dtype)
        self.buf[: self.n] = data

    def view(self) -> torch.Tensor:
        return self.buf[: self.n]

    def append(self, rows: torch.Tensor) -> None:
        need = self.n + rows.shape[0]
        if need > self.buf.shape[0]:
            bigger = torch.empty((2 * need, *self.buf.shape[1:]), dtype=self.buf.dtype)
            bigger[: self.n] = self.buf[: self.n]
            self.buf = bigger
        self.buf[self.n: need] = rows
        self.n = need



class GrowableColumns:
    """Neuron-major values (neurons x vertices): one neuron's row is contiguous."""

    def __init__(self, rows_by_vertex: torch.Tensor):
        self.n = rows_by_vertex.shape[0]
        self.buf = torch.empty((rows_by_vertex.shape[1], max(16, 2 * self.n)), dtype=rows_by_vertex.dtype)
        self.buf[:, : self.n] = rows_by_vertex.T

    def view(self) -> torch.Tensor:
        return self.buf[:, : self.n]

    def append(self, cols: torch.Tensor) -> None:
        need = self.n + cols.shape[1]
        if need > self.buf.shape[1]:
            bigger = torch.empty((self.buf.shape[0], 2 * need), dtype=self.buf.dtype)
            bigger[:, : self.n] = self.buf[:, : self.n]
            self.buf = bigger
        self.buf[:, self.n: need] = cols
        self.n = need


class EdgeSubdivision:
    """Vertices + edges of the partition of a convex window, refined neuron by neuron."""

    def __init__(self, weights, biases, act, slope, window, seed=0):
        self.weights = [torch.as_tensor(w, dtype=torch.float64) for w in weights]
        self.biases = [torch.as_tensor(b, dtype=torch.float64) for b in biases]
        self.act, self.slope = act, slope
        k = len(window)
        self.n_window = k
        n_hidden = sum(w.shape[0] for w in self.weights[:-1])
        gen = torch.Generator().manual_seed(seed)
        # One random 64-bit code per line (window sides first, then neurons).
        self.code = torch.randint(-(2**62), 2**62, (k + n_hidden,), generator=gen, dtype=torch.int64)
        win = torch.as_tensor(window, dtype=torch.float64)
        idx = torch.arange(k)
        self.pos = Growable(win)
        self.tail = Growable(idx.clone())
        self.head = Growable((idx + 1) % k)
        self.line = Growable(idx.clone())
        # Inside the window every side's sign is +; an edge on side i has 0 there.
        self.hash = Growable(self.code[:k].sum() - self.code[:k])
        self.anomalies = 0

    def run(self):
        z = self.pos.view() @ self.weights[0].T + self.biases[0]
        column = self.n_window
        n_layers = len(self.weights) - 1
        for layer in range(n_layers):
            self.z = Growable(z)  # vertex-major: fast gathers of whole vertices
            self.zt = GrowableColumns(z)  # neuron-major: one neuron's values contiguous
            for k in range(z.shape[1]):
                self.split_by_neuron(k, column)
                column += 1
            if layer + 1 < n_layers:
                h = activate(self.act, self.slope, self.z.view())
                z = h @ self.weights[layer + 1].T + self.biases[layer + 1]
        self.z = self.zt = None
        return self

    def split_by_neuron(self, k: int, column: int) -> None:
        # index_select, not fancy indexing: the latter is many times slower on CPU.
        zk = self.zt.view()[k]
        a, b = self.tail.view(), self.head.view()
        pa = zk.index_select(0, a) >= 0
        pb = zk.index_select(0, b) >= 0
        code = self.code[column]
        crossed = torch.nonzero(pa != pb).squeeze(1)
        hash_all = self.hash.view()
        old_hash = hash_all.index_select(0, crossed)
        # Every edge now lies on one side of this neuron (the first half of a
        # split edge on a's side): add that sign's code.
        hash_all.add_(torch.where(pa, code, -code))
        m = crossed.numel()
        if m == 0:
            return
        ca, cb = a.index_select(0, crossed), b.index_select(0, crossed)
        za, zb = zk.index_select(0, ca), zk.index_select(0, cb)
        t = (za / (za - zb)).unsqueeze(1)
        pos = self.pos.view()
        pos_a = pos.index_select(0, ca)
        new_pos = pos_a + t * (pos.index_select(0, cb) - pos_a)
        zrows = self.z.view()
        z_a = zrows.index_select(0, ca)
        new_z = z_a + t * (zrows.index_select(0, cb) - z_a)
        new_z[:, k] = 0.0
        new_ids = torch.arange(self.pos.n, self.pos.n + m)
        self.pos.append(new_pos)
        self.z.append(new_z)
        self.zt.append(new_z.T)
        # Split edge (a, b) into (a, new) in place and (new, b) appended.
        b.index_copy_(0, crossed, new_ids)
        lines = self.line.view().index_select(0, crossed)
        self.tail.append(new_ids)
        self.head.append(cb)
        self.line.append(lines)
        self.hash.append(old_hash + torch.where(pb.index_select(0, crossed), code, -code))
        # Faces cut by this neuron: each is named from both of its crossed edges
        # (the edge's sign vector with its own line's sign set to the face's side).
        side = self.code.index_select(0, lines)
        interior = lines >= self.n_window  # outside a window side is no face
        keys = torch.cat([old_hash + side, (old_hash - side)[interior]])
        verts = torch.cat([new_ids, new_ids[interior]])
        keys, order = torch.sort(keys)
        verts = verts.index_select(0, order)
        if keys.numel() % 2 == 0 and bool(torch.equal(keys[0::2], keys[1::2])):
            first, second, face = verts[0::2], verts[1::2], keys[0::2]
        else:
            uniq, counts = torch.unique_consecutive(keys, return_counts=True)
            self.anomalies += int((counts != 2).sum())
            starts = (torch.cumsum(counts, 0) - counts)[counts == 2]
            first, second, face = verts[starts], verts[starts + 1], keys[starts]
        self.tail.append(first)
        self.head.append(second)
        self.line.append(torch.full((first.numel(),), column, dtype=torch.int64))
        self.hash.append(face)  # the face's sign vector with 0 for this neuron

    def region_count(self) -> int:
        # Euler's formula for a connected planar graph: F (bounded) = E - V + 1.
        return self.tail.n - self.pos.n + 1

    def full_output(self):
        """Polygons (ordered vertex ids per region), patterns, adjacency, areas."""
        edges = torch.stack([self.tail.view(), self.head.view()], dim=1)
        line, hsh = self.line.view(), self.hash.view()
        side = self.code[line]
        interior = line >= self.n_window
        keys = torch.cat([hsh + side, (hsh - side)[interior]])
        uniq, face = torch.unique(keys, return_inverse=True)
        n_faces = uniq.numel()
        plus, minus = face[: edges.shape[0]], face[edges.shape[0]:]
        lo, hi = torch.minimum(plus[interior], minus), torch.maximum(plus[interior], minus)
        code = torch.unique(lo * n_faces + hi)  # 1-D unique: unique(dim=0) is slow
        adjacency = torch.stack([code // n_faces, code % n_faces], dim=1)
        # Vertices of each face: the endpoints of its edges, once each.
        inc_face = torch.cat([face, face])
        inc_vert = torch.cat([edges[:, 0], edges[interior, 0], edges[:, 1], edges[interior, 1]])
        inc = torch.unique(inc_face * self.pos.n + inc_vert)
        inc_face, inc_vert = inc // self.pos.n, inc % self.pos.n
        pos = self.pos.view()
        counts = torch.bincount(inc_face, minlength=n_faces)
        centre = torch.zeros((n_faces, 2), dtype=torch.float64).index_add_(0, inc_face, pos[inc_vert])
        centre /= counts.unsqueeze(1)
        rel = pos[inc_vert] - centre[inc_face]
        angle = torch.atan2(rel[:, 1], rel[:, 0])
        order = torch.argsort(angle)
        order = order[torch.argsort(inc_face[order], stable=True)]
        ring_face, ring_vert = inc_face[order], inc_vert[order]
        starts = torch.cumsum(counts, 0) - counts
        # Shoelace over each ordered ring (next vertex wraps within the face).
        within = torch.arange(ring_face.numel()) - starts[ring_face]
        nxt = starts[ring_face] + (within + 1) % counts[ring_face]
        p, q = pos[ring_vert], pos[ring_vert[nxt]]
        cross = p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]
        areas = 0.5 * torch.zeros(n_faces, dtype=torch.float64).index_add_(0, ring_face, cross)
        patterns = self.patterns_at(centre)
        return {"faces": n_faces, "ring_starts": starts, "ring_vertices": ring_vert, "areas": areas,
                "adjacency": adjacency, "patterns": patterns, "centres": centre}

    def patterns_at(self, points: torch.Tensor) -> torch.Tensor:
        bits, h = [], points
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z = torch.addmm(b, h, w.T)
            bits.append(z > 0)
            h = torch.relu_(z) if self.act == "relu" else activate(self.act, self.slope, z)
        return torch.cat(bits, dim=1)


def edge_subdivision(weights, biases, act, slope, window, full=True):
    with stopwatch() as core:
        es = EdgeSubdivision(weights, biases, act, slope, window).run()
        regions = es.region_count()
    core_s = core()
    out = None
    with stopwatch() as extract:
        if full:
            out = es.full_output()
    return es, regions, core_s, core_s + extract(), out


def pattern_strings(bits: np.ndarray) -> list[str]:
    chars = np.where(bits, ord("1"), ord("0")).astype(np.uint8)
    return [row.tobytes().decode() for row in chars]


# ------------------------------------------------------------ checks and runs


def check_vectors(vec_dir: Path) -> bool:
    """Both peers against the shared regions vectors (counts and pattern hashes)."""
    ok_all = True
    for meta in sorted((vec_dir / "regions").glob("pub*.json")):
        spec = json.loads(meta.read_text())
        p2d = spec.get("partition2d")
        if not p2d:
            continue
        weights, biases, act, slope = workloads.load_mlp(meta.with_name(spec["net_file"]))
        with np.load(meta.with_name(p2d["slice_file"])) as s:
            x0, u, v, window = s["x0"], s["u"], s["v"], s["window"]
        rw, rb = restrict_to_plane(weights, biases, x0, u, v)
        plain = plain_split(rw, rb, act, slope, window)
        plain_hash = pattern_hash(pattern_strings(np.array([bits for _, bits in plain])))
        es, regions, _, _, out = edge_subdivision(rw, rb, act, slope, window)
        keep = out["areas"] > SLIVER_REL_AREA * abs(polygon_area(window))
        n_kept = int(keep.sum())
        es_hash = pattern_hash(pattern_strings(out["patterns"][keep].numpy()))
        want_n, want_h = p2d["region_count"], p2d["pattern_hash"]
        ok = (len(plain) == want_n and plain_hash == want_h and n_kept == want_n and es_hash == want_h)
        ok_all &= ok
        print(f"  {meta.stem}: expected {want_n}; plain {len(plain)} ({'hash ok' if plain_hash == want_h else 'hash differs'}); "
              f"edge subdivision {regions} faces, {n_kept} above sliver area ({'hash ok' if es_hash == want_h else 'hash differs'}), "
              f"anomalies {es.anomalies} -> {'OK' if ok else 'MISMATCH'}")
    return ok_all


def run_window(rw, rb, act, slope, h, skip_plain, plain_max_h):
    window = square(h)
    print(f"\n== W1 window [-{h:g}, {h:g}]^2 ==")
    es, regions, core_s, full_s, out = edge_subdivision(rw, rb, act, slope, window)
    unique_patterns = np.unique(np.packbits(out["patterns"].numpy(), axis=1), axis=0).shape[0]
    area_err = abs(float(out["areas"].sum()) - 4 * h * h) / (4 * h * h)
    print(f"edge subdivision (torch f64): regions {regions}, vertices {es.pos.n}, edges {es.tail.n}, anomalies {es.anomalies}")
    print(f"  core {core_s:.3f} s ({1e6 * core_s / regions:.2f} us/region); with polygons, patterns, adjacency "
          f"{full_s:.3f} s ({1e6 * full_s / regions:.2f} us/region)")
    slivers = int((out["areas"] <= SLIVER_REL_AREA * 4 * h * h).sum())
    print(f"  faces {out['faces']} ({slivers} below sliver area), unique patterns {unique_patterns}, adjacent pairs {out['adjacency'].shape[0]}, "
          f"area rel err {area_err:.2e}")
    if not skip_plain and h <= plain_max_h:
        with stopwatch() as t:
            plain = plain_split(rw, rb, act, slope, window)
        plain_s = t()
        print(f"plain polygon splitting (numpy): regions {len(plain)}, {plain_s:.3f} s ({1e6 * plain_s / len(plain):.2f} us/region)")
    else:
        plain, plain_s = None, None
    cpwl = run_cpwl("w1", workloads.workload_dir("w1"), h)
    report_ratio("edge subdivision (full output) vs cpwl", full_s, cpwl)
    if plain_s is not None:
        report_ratio("plain splitting vs cpwl", plain_s, cpwl)
    if cpwl is not None and "regions" in cpwl:
        print(f"  regions: peer {regions}, cpwl {cpwl['regions']} -> {'SAME' if int(cpwl['regions']) == regions else 'DIFFERENT'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half-widths", type=float, nargs="+", default=workloads.W1_HALF_WIDTHS)
    ap.add_argument("--skip-plain", action="store_true", help="run only the edge-subdivision peer")
    ap.add_argument("--plain-max-h", type=float, default=float("inf"), help="skip the plain peer on wider windows")
    # Edge subdivision is thousands of small tensor ops; torch's intra-op
    # threads do not speed them up and, on a busy 2-core machine, slow them
    # down several times, so the peer runs single-threaded unless told.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check-vectors", action="store_true", help="check both peers on the shared regions vectors first")
    args = ap.parse_args()
    set_torch_threads(args.threads)
    if args.check_vectors:
        vec = shared_vectors_dir()
        if vec is None:
            print("shared vectors not found (set CPWL_VECTORS)")
            return 1
        print("checking against shared regions vectors:")
        if not check_vectors(vec):
            return 1
    d = workloads.ensure("w1")
    weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
    with np.load(d / "slice.npz") as s:
        rw, rb = restrict_to_plane(weights, biases, s["x0"], s["u"], s["v"])
    print(f"W1: {'-'.join(str(w.shape[1]) for w in weights)}-{weights[-1].shape[0]} {act}, torch threads {torch.get_num_threads()}")
    for h in args.half_widths:
        run_window(rw, rb, act, slope, h, args.skip_plain, args.plain_max_h)
    return 0


if __name__ == "__main__":
    sys.exit(main())
