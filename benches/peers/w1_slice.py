"""W1 peer: the linear regions of a 2-D slice through a ReLU MLP.

Three peers, written from the published descriptions:

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

(c) SplineCam-style (Humayun et al., "SplineCam: Exact visualization and
    characterization of deep network geometry and decision boundaries",
    CVPR 2023): layer by layer, each region's new lines as chords of its
    polygon, their crossings, and the faces of that planar graph by
    half-edge traversal, batched over all regions (see SplineCamStyle).

(b) and (c) use the convention sign(0) = + (a symbolic perturbation), so a
line through a vertex needs no special case; (a) treats values within a
relative 1e-12 of zero as on the line. With generic weights neither matters.

Usage: python w1_slice.py [--half-widths 7 40] [--skip-plain] [--check-vectors] [--w1b]
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
from common import report_ratio, run_cpwl, set_torch_threads, stopwatch, vectors_pass

PLAIN_EPS = 1e-12  # relative zero band of a vertex value in the plain splitter
SLIVER_REL_AREA = 1e-12  # edge-subdivision faces below this fraction of the window are perturbation artefacts
MERGE_REL = 1e-10  # SplineCam-style: vertices closer than this (times the window size) are one


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


# ------------------------------------------------------------ (c) SplineCam-style


def segment_ranges(counts: torch.Tensor) -> torch.Tensor:
    """Start offset of each group of a CSR layout."""
    return torch.cumsum(counts, 0) - counts


def sort_by_group_then(group: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    order = torch.argsort(param)
    return order[torch.argsort(group.index_select(0, order), stable=True)]


class SplineCamStyle:
    """Layer-wise arrangement of every region's new lines, faces by planar-graph traversal.

    After SplineCam (Humayun, Balestriero, Balakrishnan, Baraniuk, CVPR 2023):
    for each layer, every current region (a convex polygon with the affine
    map of the layer's pre-activations) gets the zero lines of the layer's
    units as chords of its polygon; the chords' pairwise intersections, the
    polygon's sides and the chords form a planar graph, and the new regions
    are its bounded faces, found by following half-edges (next = the
    previous outgoing half-edge around the head vertex, counter-clockwise
    order) and labelling the cycles. All regions of a layer are processed at
    once (in chunks of regions) with batched tensor operations.
    """

    def __init__(self, weights, biases, act, slope, window, chunk_regions=4096):
        self.weights = [torch.as_tensor(w, dtype=torch.float64) for w in weights]
        self.biases = [torch.as_tensor(b, dtype=torch.float64) for b in biases]
        self.act, self.slope = act, slope
        self.window = torch.as_tensor(window, dtype=torch.float64)
        self.chunk = chunk_regions

    def run(self):
        k = self.window.shape[0]
        pos = self.window.clone()
        counts = torch.tensor([k])
        # Per region (rows): pre-activation = lx * s + ly * t + off, one column per unit.
        lx, ly = self.weights[0][:, 0].unsqueeze(0), self.weights[0][:, 1].unsqueeze(0)
        off = self.biases[0].unsqueeze(0)
        patterns = torch.zeros((1, 0), dtype=torch.bool)
        n_layers = len(self.weights) - 1
        for layer in range(n_layers):
            nxt_w = self.weights[layer + 1]
            nxt_b = self.biases[layer + 1]
            parts = []
            starts = segment_ranges(counts)
            for lo in range(0, counts.numel(), self.chunk):
                hi = min(lo + self.chunk, counts.numel())
                v0 = int(starts[lo])
                v1 = int(starts[hi - 1] + counts[hi - 1])
                parts.append(self.layer_chunk(pos[v0:v1], counts[lo:hi], lx[lo:hi], ly[lo:hi], off[lo:hi],
                                              patterns[lo:hi], nxt_w, nxt_b))
            pos = torch.cat([p[0] for p in parts])
            counts = torch.cat([p[1] for p in parts])
            lx = torch.cat([p[2] for p in parts])
            ly = torch.cat([p[3] for p in parts])
            off = torch.cat([p[4] for p in parts])
            patterns = torch.cat([p[5] for p in parts])
        self.pos, self.counts, self.patterns = pos, counts, patterns
        return self

    def region_count(self) -> int:
        return self.counts.numel()

    def merge_coincident(self, all_pos, vert_reg, a, b):
        """Undirected edges (E, 2) after merging vertices of a region that coincide.

        Only degenerate networks (several lines through one point, duplicate
        units) produce coincident vertices; merging them (on a grid of
        MERGE_REL times the window's size) and dropping the resulting
        zero-length and repeated edges keeps the graph planar.
        """
        cell = MERGE_REL * float(self.window.abs().max())
        grid = torch.round(all_pos / cell).to(torch.int64)
        # Lexicographic sort by (region, gx, gy); torch.unique(dim=0) is slow.
        order = torch.argsort(grid[:, 1])
        order = order[torch.argsort(grid[:, 0].index_select(0, order), stable=True)]
        order = order[torch.argsort(vert_reg.index_select(0, order), stable=True)]
        key = torch.stack([vert_reg, grid[:, 0], grid[:, 1]], dim=1).index_select(0, order)
        new_key = torch.ones(order.numel(), dtype=torch.bool)
        new_key[1:] = (key[1:] != key[:-1]).any(dim=1)
        leader = order.index_select(0, torch.nonzero(new_key).squeeze(1)).index_select(
            0, torch.cumsum(new_key.to(torch.int64), 0) - 1)
        rep = torch.empty_like(order).index_copy_(0, order, leader)
        a, b = rep.index_select(0, a), rep.index_select(0, b)
        keep = a != b
        lo, hi = torch.minimum(a[keep], b[keep]), torch.maximum(a[keep], b[keep])
        code = torch.unique(lo * all_pos.shape[0] + hi)
        return torch.stack([code // all_pos.shape[0], code % all_pos.shape[0]], dim=1)

    def layer_chunk(self, pos, counts, lx, ly, off, patterns, nxt_w, nxt_b):
        n_reg = counts.numel()
        n_vert = pos.shape[0]
        starts = segment_ranges(counts)
        reg_of_v = torch.repeat_interleave(torch.arange(n_reg), counts)
        local = torch.arange(n_vert) - starts.index_select(0, reg_of_v)
        succ = starts.index_select(0, reg_of_v) + (local + 1) % counts.index_select(0, reg_of_v)
        vals = self.affine_at(lx, ly, off, reg_of_v, pos)
        n_units = vals.shape[1]
        # Chord ends: polygon sides whose ends disagree in sign (sign(0) = +).
        side_pos = vals >= 0
        ev, eu = torch.nonzero(side_pos != side_pos.index_select(0, succ), as_tuple=True)
        f0 = vals[ev, eu]
        f1 = vals[succ.index_select(0, ev), eu]
        t = f0 / (f0 - f1)
        p_a = pos.index_select(0, ev)
        cross_pos = p_a + t.unsqueeze(1) * (pos.index_select(0, succ.index_select(0, ev)) - p_a)
        # Pair the two ends of each chord (convex polygon: exactly two per crossing unit).
        chord_key = reg_of_v.index_select(0, ev) * n_units + eu
        order = torch.argsort(chord_key, stable=True)
        end_a, end_b = order[0::2], order[1::2]
        if not torch.equal(chord_key[end_a], chord_key[end_b]):
            raise RuntimeError("a chord without two ends (degenerate arrangement)")
        seg_reg = reg_of_v.index_select(0, ev.index_select(0, end_a))
        seg_unit = eu.index_select(0, end_a)
        n_seg = seg_reg.numel()
        q0, q1 = cross_pos.index_select(0, end_a), cross_pos.index_select(0, end_b)
        # Pairs of chords of one region; they cross when one's line separates the other's ends.
        per_reg = torch.bincount(seg_reg, minlength=n_reg)
        seg_start = segment_ranges(per_reg)
        rank = torch.arange(n_seg) - seg_start.index_select(0, seg_reg)
        partners = per_reg.index_select(0, seg_reg) - 1 - rank
        pi = torch.repeat_interleave(torch.arange(n_seg), partners)
        pj = pi + 1 + torch.arange(pi.numel()) - segment_ranges(partners).index_select(0, pi)
        flat = seg_reg.index_select(0, pj) * n_units + seg_unit.index_select(0, pj)
        ax, ay, b_j = (m.reshape(-1).index_select(0, flat) for m in (lx, ly, off))
        e0, e1 = q0.index_select(0, pi), q1.index_select(0, pi)
        g0 = ax * e0[:, 0] + ay * e0[:, 1] + b_j
        g1 = ax * e1[:, 0] + ay * e1[:, 1] + b_j
        hit = torch.nonzero((g0 >= 0) != (g1 >= 0)).squeeze(1)
        pi, pj, g0, g1 = pi[hit], pj[hit], g0[hit], g1[hit]
        u_i = g0 / (g0 - g1)
        x_pos = q0.index_select(0, pi) + u_i.unsqueeze(1) * (q1.index_select(0, pi) - q0.index_select(0, pi))
        d_j = q1.index_select(0, pj) - q0.index_select(0, pj)
        u_j = ((x_pos - q0.index_select(0, pj)) * d_j).sum(1) / (d_j * d_j).sum(1)
        # Graph vertices: polygon corners, chord ends, chord crossings.
        n_cross, n_x = cross_pos.shape[0], x_pos.shape[0]
        all_pos = torch.cat([pos, cross_pos, x_pos])
        vert_reg = torch.cat([reg_of_v, reg_of_v.index_select(0, ev), seg_reg.index_select(0, pi)])
        cross_id = n_vert + torch.arange(n_cross)
        x_id = n_vert + n_cross + torch.arange(n_x)
        # Points along each polygon side (groups 0..V-1) and each chord (groups V..V+S-1).
        group = torch.cat([torch.arange(n_vert), torch.arange(n_vert), ev,
                           n_vert + torch.arange(n_seg), n_vert + torch.arange(n_seg), n_vert + pi, n_vert + pj])
        param = torch.cat([torch.zeros(n_vert), torch.ones(n_vert), t,
                           torch.zeros(n_seg), torch.ones(n_seg), u_i, u_j]).to(torch.float64)
        vid = torch.cat([torch.arange(n_vert), succ, cross_id,
                         cross_id.index_select(0, end_a), cross_id.index_select(0, end_b), x_id, x_id])
        order = sort_by_group_then(group, param)
        group, vid = group.index_select(0, order), vid.index_select(0, order)
        link = torch.nonzero(group[1:] == group[:-1]).squeeze(1)
        ends = self.merge_coincident(all_pos, vert_reg, vid.index_select(0, link), vid.index_select(0, link + 1))
        tail = ends.reshape(-1)
        head = ends.flip(1).reshape(-1)
        n_half = tail.numel()
        twin = torch.arange(n_half) ^ 1
        # Outgoing half-edges around each vertex in counter-clockwise order.
        d = all_pos.index_select(0, head) - all_pos.index_select(0, tail)
        around = sort_by_group_then(tail, torch.atan2(d[:, 1], d[:, 0]))
        slot = torch.empty(n_half, dtype=torch.int64)
        slot[around] = torch.arange(n_half)
        degree = torch.bincount(tail, minlength=all_pos.shape[0])
        first = segment_ranges(degree)
        # Face on the left of h = (u -> v): continue with the half-edge just
        # clockwise of twin(h) around v.
        s = slot.index_select(0, twin)
        v = head
        prev = torch.where(s > first.index_select(0, v), s - 1, first.index_select(0, v) + degree.index_select(0, v) - 1)
        nxt = around.index_select(0, prev)
        label = torch.arange(n_half)
        jump = nxt
        while True:
            new = torch.minimum(label, label.index_select(0, jump))
            if torch.equal(new, label):
                break
            label, jump = new, jump.index_select(0, jump)
        faces, face_of = torch.unique(label, return_inverse=True)
        p, q = all_pos.index_select(0, tail), all_pos.index_select(0, head)
        twice_area = torch.zeros(faces.numel(), dtype=torch.float64).index_add_(
            0, face_of, p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0])
        inner = twice_area > 0  # each region's own boundary cycle runs clockwise
        keep_h = torch.nonzero(inner.index_select(0, face_of)).squeeze(1)
        new_id = torch.cumsum(inner.to(torch.int64), 0) - 1
        hf = new_id.index_select(0, face_of.index_select(0, keep_h))
        hv = tail.index_select(0, keep_h)
        n_faces = int(inner.sum())
        f_count = torch.bincount(hf, minlength=n_faces)
        centre = torch.zeros((n_faces, 2), dtype=torch.float64).index_add_(0, hf, all_pos.index_select(0, hv))
        centre /= f_count.unsqueeze(1)
        rel = all_pos.index_select(0, hv) - centre.index_select(0, hf)
        ring = sort_by_group_then(hf, torch.atan2(rel[:, 1], rel[:, 0]))
        new_pos = all_pos.index_select(0, hv.index_select(0, ring))
        parent = torch.zeros(n_faces, dtype=torch.int64).index_copy_(0, hf, vert_reg.index_select(0, hv))
        # The layer's pattern on each face, and the next layer's affine map.
        p_lx, p_ly, p_off = (m.index_select(0, parent) for m in (lx, ly, off))
        on = (p_lx * centre[:, :1] + p_ly * centre[:, 1:] + p_off) > 0
        new_patterns = torch.cat([patterns.index_select(0, parent), on], dim=1)
        d_slope = slope_of(self.act, self.slope, on)
        w_t = nxt_w.T
        next_lx, next_ly = (d_slope * p_lx) @ w_t, (d_slope * p_ly) @ w_t
        next_off = torch.addmm(nxt_b, d_slope * p_off, w_t)
        return new_pos, f_count, next_lx, next_ly, next_off, new_patterns

    @staticmethod
    def affine_at(lx, ly, off, region, pts):
        """Every unit's pre-activation at points `pts` of regions `region` (points x units)."""
        z = torch.addcmul(off.index_select(0, region), lx.index_select(0, region), pts[:, :1])
        return z.addcmul_(ly.index_select(0, region), pts[:, 1:])


def splinecam_style(weights, biases, act, slope, window):
    with stopwatch() as t:
        sc = SplineCamStyle(weights, biases, act, slope, window).run()
    return sc, t()


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
        sc, _ = splinecam_style(rw, rb, act, slope, window)
        sc_hash = pattern_hash(pattern_strings(sc.patterns.numpy()))
        want_n, want_h = p2d["region_count"], p2d["pattern_hash"]
        ok = (len(plain) == want_n and plain_hash == want_h and n_kept == want_n and es_hash == want_h
              and sc.region_count() == want_n and sc_hash == want_h)
        ok_all &= ok
        print(f"  {meta.stem}: expected {want_n}; plain {len(plain)} ({'hash ok' if plain_hash == want_h else 'hash differs'}); "
              f"edge subdivision {regions} faces, {n_kept} above sliver area ({'hash ok' if es_hash == want_h else 'hash differs'}), "
              f"anomalies {es.anomalies}; SplineCam-style {sc.region_count()} ({'hash ok' if sc_hash == want_h else 'hash differs'}) "
              f"-> {'OK' if ok else 'MISMATCH'}")
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
    sc, sc_s = splinecam_style(rw, rb, act, slope, window)
    sc_unique = np.unique(np.packbits(sc.patterns.numpy(), axis=1), axis=0).shape[0]
    print(f"SplineCam-style (torch f64): regions {sc.region_count()}, {sc_s:.3f} s ({1e6 * sc_s / sc.region_count():.2f} us/region) "
          f"with polygons and patterns (unique {sc_unique}), no adjacency")
    if not skip_plain and h <= plain_max_h:
        with stopwatch() as t:
            plain = plain_split(rw, rb, act, slope, window)
        plain_s = t()
        print(f"plain polygon splitting (numpy): regions {len(plain)}, {plain_s:.3f} s ({1e6 * plain_s / len(plain):.2f} us/region)")
    else:
        plain, plain_s = None, None
    cpwl = run_cpwl("w1", workloads.workload_dir("w1"), h)
    report_ratio("edge subdivision (full output) vs cpwl", full_s, cpwl)
    report_ratio("SplineCam-style vs cpwl", sc_s, cpwl)
    if plain_s is not None:
        report_ratio("plain splitting vs cpwl", plain_s, cpwl)
    if cpwl is not None and "regions" in cpwl:
        print(f"  regions: peer {regions}, cpwl {cpwl['regions']} -> {'SAME' if int(cpwl['regions']) == regions else 'DIFFERENT'}")


def run_w1b() -> None:
    """About 1e6 regions: SplineCam-style only (edge subdivision would keep
    ~2e6 vertices x 500 values twice, beyond a 24 GB machine)."""
    d = workloads.ensure("w1b")
    weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
    with np.load(d / "slice.npz") as s:
        rw, rb = restrict_to_plane(weights, biases, s["x0"], s["u"], s["v"])
    h = workloads.W1B_HALF_WIDTH
    print(f"\n== W1b {'-'.join(str(w.shape[1]) for w in weights)}-{weights[-1].shape[0]} {act}, window [-{h:g}, {h:g}]^2 ==")
    sc, sc_s = splinecam_style(rw, rb, act, slope, square(h))
    print(f"SplineCam-style (torch f64): regions {sc.region_count()}, {sc_s:.3f} s ({1e6 * sc_s / sc.region_count():.2f} us/region)")
    cpwl = run_cpwl("w1", d, h)
    report_ratio("W1b SplineCam-style vs cpwl", sc_s, cpwl)
    if cpwl is not None and "regions" in cpwl:
        print(f"  regions: peer {sc.region_count()}, cpwl {cpwl['regions']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--half-widths", type=float, nargs="+", default=workloads.W1_HALF_WIDTHS)
    ap.add_argument("--skip-plain", action="store_true", help="run only the edge-subdivision peer")
    ap.add_argument("--plain-max-h", type=float, default=float("inf"), help="skip the plain peer on wider windows")
    # Edge subdivision is thousands of small tensor ops; torch's intra-op
    # threads do not speed them up and, on a busy 2-core machine, slow them
    # down several times, so the peer runs single-threaded unless told.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check-vectors", action="store_true", help="check the peers on the shared regions vectors first")
    ap.add_argument("--w1b", action="store_true", help="also run W1b (about 1e6 regions; minutes)")
    args = ap.parse_args()
    set_torch_threads(args.threads)
    if args.check_vectors and not vectors_pass("against shared regions vectors", check_vectors):
        return 1
    d = workloads.ensure("w1")
    weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
    with np.load(d / "slice.npz") as s:
        rw, rb = restrict_to_plane(weights, biases, s["x0"], s["u"], s["v"])
    print(f"W1: {'-'.join(str(w.shape[1]) for w in weights)}-{weights[-1].shape[0]} {act}, torch threads {torch.get_num_threads()}")
    for h in args.half_widths:
        run_window(rw, rb, act, slope, h, args.skip_plain, args.plain_max_h)
    if args.w1b:
        run_w1b()
    return 0


if __name__ == "__main__":
    sys.exit(main())
