"""W3 peer: local complexity (LC) of 10,000 points, the reference definition in PyTorch.

Definition (Humayun, Balestriero, Baraniuk, "Training Dynamics of Deep Network
Linear Regions", arXiv 2310.12977 sec. 3.2, and "Deep Networks Always Grok and
Here is Why", arXiv 2402.15555 sec. 2.2): around each point x take the 2P
vertices x + r v_1, ..., x + r v_P, x - r v_1, ..., x - r v_P of a
cross-polytope; run all vertices through the network; a unit of a counted
layer intersects the neighbourhood when the three-valued sign of its
pre-activation at some vertex differs from the sign at the first vertex;
LC(x) = number of intersecting units over the counted layers.

Two routes, each in float64 and float32, on the CPU with a fixed thread count:
* reference: the batched forward of all B*2P vertices, sign comparison;
* folded: the first layer is linear, so W(x +- r v_i) = W x +- r W v_i:
  W x once per point, W v_i once for all points (for the CNN, the first
  convolution likewise).

Networks: the W1 MLP (784-200-200-200-10; hidden and output layers counted,
as the reference MLP script does) and the W3 CNN (three 3x3 convolutions;
only the convolutions counted, as in the papers' CNN experiments). Directions:
reference-compatible (seed 0, P = 25), radius 0.005.

Usage: python w3_lc.py [--points 10000] [--cnn-points 1000] [--nets mlp cnn] [--threads 2] [--check-vectors]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

import workloads
from common import load_cpwl_array, report_cold, run_cpwl, set_torch_threads, stopwatch, vectors_pass

CHUNK_POINTS = 200


def activation(act: str, slope: float):
    if act == "relu":
        return torch.relu
    if act == "leaky_relu":
        return lambda z: F.leaky_relu(z, slope)
    return torch.abs


class Mlp:
    """Dense layers; every layer's pre-activation is counted when `count_output`."""

    def __init__(self, weights, biases, act, slope, count_output, dtype):
        self.w = [torch.as_tensor(w, dtype=dtype) for w in weights]
        self.b = [torch.as_tensor(b, dtype=dtype) for b in biases]
        self.act = activation(act, slope)
        self.count_output = count_output
        self.widths = [w.shape[0] for w in self.w][: None if count_output else -1]

    def first_linear(self, x, with_bias=True):
        return F.linear(x, self.w[0], self.b[0] if with_bias else None)

    def rest(self, z, visit):
        """Visits each counted pre-activation, starting from the first layer's `z`."""
        last = len(self.w) - 1
        for k in range(last + 1):
            if k > 0:
                z = F.linear(self.act(z), self.w[k], self.b[k])
            if k < last or self.count_output:
                visit(z)


class Cnn:
    """The W3 CNN from its state arrays and architecture (convs counted, not the output)."""

    def __init__(self, params, arch, dtype):
        self.p = {k: torch.as_tensor(v, dtype=dtype) for k, v in params.items()}
        self.convs = [l for l in arch["layers"] if l["type"] == "conv2d"]
        self.fc = [l for l in arch["layers"] if l["type"] == "linear"][0]
        self.widths = [int(np.prod(l["out_shape"])) for l in self.convs]

    def conv(self, layer, x, with_bias=True):
        name = layer["name"]
        return F.conv2d(x, self.p[name + ".weight"], self.p[name + ".bias"] if with_bias else None,
                        stride=layer["stride"], padding=layer["padding"])

    def first_linear(self, x, with_bias=True):
        return self.conv(self.convs[0], x.reshape(-1, 1, 28, 28), with_bias)

    def rest(self, z, visit):
        visit(z.flatten(1))
        for layer in self.convs[1:]:
            z = self.conv(layer, torch.relu(z))
            visit(z.flatten(1))
        # The output layer is not counted, but the forward pass is the reference's.
        F.linear(torch.relu(z).flatten(1), self.p[self.fc["name"] + ".weight"], self.p[self.fc["name"] + ".bias"])


def count_chunk(net, zs, batch, two_p):
    """Per-layer intersecting-unit counts for `batch` points from the vertices' first-layer values."""
    counts = []

    def visit(z):
        s = torch.sign(z).reshape(batch, two_p, -1)
        counts.append((s != s[:, :1]).any(dim=1).sum(dim=1))

    net.rest(zs, visit)
    return torch.stack(counts, dim=1)


def lc_reference(net, points, dirs, radius):
    """Batched forward of every vertex x +- r v_i."""
    two_p = 2 * dirs.shape[0]
    offsets = radius * torch.cat([dirs, -dirs])
    out = []
    for x in torch.split(points, CHUNK_POINTS):
        verts = (x[:, None, :] + offsets[None]).reshape(-1, x.shape[1])
        out.append(count_chunk(net, net.first_linear(verts), x.shape[0], two_p))
    return torch.cat(out)


def lc_folded(net, points, dirs, radius):
    """First layer folded: W x once per point, W (r v_i) once for all points."""
    two_p = 2 * dirs.shape[0]
    wv = net.first_linear(radius * dirs, with_bias=False)
    wv = torch.cat([wv, -wv])
    out = []
    for x in torch.split(points, CHUNK_POINTS):
        wx = net.first_linear(x)
        z = (wx[:, None] + wv[None]).reshape(-1, *wx.shape[1:])
        out.append(count_chunk(net, z, x.shape[0], two_p))
    return torch.cat(out)


ROUTES = {"reference": lc_reference, "folded": lc_folded}
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def best_run(fn, repeat: int, net, pts, dirs, radius):
    """(least seconds, counts) of `repeat` runs of one route (same counts every run)."""
    best, counts = None, None
    for _ in range(max(1, repeat)):
        with torch.inference_mode(), stopwatch() as t:
            counts = fn(net, pts, dirs, radius)
        best = t() if best is None else min(best, t())
    return best, counts


def check_vectors(vec_dir) -> bool:
    ok_all = True
    for d in sorted((vec_dir / "lc").iterdir()):
        spec = json.loads((d / "expected.json").read_text())
        weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
        pts = torch.as_tensor(np.load(d / "points.npy"))
        dirs = torch.as_tensor(np.load(d / "directions.npy"))
        for with_out, key in ((True, "with_output_layer"), (False, "hidden_only")):
            want = np.array(spec[key]["per_layer"])
            net = Mlp(weights, biases, act, slope, with_out, torch.float64)
            for route, fn in ROUTES.items():
                got = fn(net, pts, dirs, spec["radius"]).numpy()
                ok = got.shape == want.shape and bool((got == want).all())
                ok_all &= ok
                print(f"  {d.name} {key} {route}: {'OK' if ok else 'MISMATCH'}")
    return ok_all


def load_net(name: str, dtype):
    d = workloads.workload_dir("w3")
    if name == "mlp":
        weights, biases, act, slope = workloads.load_mlp(d / "mlp.npz")
        return Mlp(weights, biases, act, slope, True, dtype)
    with np.load(d / "cnn.npz") as z:
        params = {k: z[k] for k in z.files}
    return Cnn(params, json.loads((d / "cnn_arch.json").read_text()), dtype)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=workloads.W3_POINTS, help="points for the MLP")
    # The CNN peer in f64 runs about a minute per 1000 points on our 2 cores.
    ap.add_argument("--cnn-points", type=int, default=1000, help="points for the CNN (first rows of points.npy)")
    ap.add_argument("--nets", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    ap.add_argument("--precisions", nargs="+", default=["f64", "f32"], choices=list(DTYPES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--routes", nargs="+", default=list(ROUTES), choices=list(ROUTES),
                    help="peer routes to time (the folded one is the strongest)")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per route")
    ap.add_argument("--check-vectors", action="store_true")
    args = ap.parse_args()
    set_torch_threads(args.threads)
    if args.check_vectors and not vectors_pass("against shared lc vectors", check_vectors):
        return 1
    d = workloads.ensure("w3")
    all_points = np.load(d / "points.npy")
    dirs64 = torch.as_tensor(np.load(d / "directions.npy"))
    radius = workloads.W3_RADIUS
    print(f"W3: P = {dirs64.shape[0]}, r = {radius}, torch threads {torch.get_num_threads()}")
    for name in args.nets:
        points64 = torch.as_tensor(all_points[: args.points if name == "mlp" else args.cnn_points])
        f64_counts = None
        for prec in args.precisions:
            dtype = DTYPES[prec]
            net = load_net(name, dtype)
            pts, dirs = points64.to(dtype), dirs64.to(dtype)
            print(f"\n== W3 {name} {prec}, {len(pts)} points (counted layer widths {net.widths}) ==")
            best, ref_counts = None, None
            for route in args.routes:
                secs, counts = best_run(ROUTES[route], args.repeat, net, pts, dirs, radius)
                totals = counts.sum(dim=1).to(torch.float64)
                print(f"{route:9s}: {secs:.3f} s (best of {args.repeat}, {1e6 * secs / len(pts):.1f} us/point), "
                      f"LC mean {totals.mean():.6f}, checksum (sum of counts) {int(counts.sum())}, "
                      f"per-layer means {[round(float(c), 4) for c in counts.to(torch.float64).mean(0)]}")
                if ref_counts is None:
                    ref_counts = counts
                    if prec == "f64" and route == "reference":
                        np.save(d / f"peer_counts_{name}.npy", counts.numpy())
                else:
                    diff = int((counts != ref_counts).any(dim=1).sum())
                    print(f"           points whose counts differ from the {args.routes[0]} route: {diff}")
                if prec == "f64" and f64_counts is None:
                    f64_counts = counts
                elif f64_counts is not None and prec != "f64":
                    diff = int((counts != f64_counts).any(dim=1).sum())
                    print(f"           points whose counts differ from f64: {diff}")
                best = secs if best is None else min(best, secs)
            cpwl = run_cpwl("w3", d, name, prec, args.threads, len(pts), repeat=args.repeat)
            if cpwl is None:
                print(f"W3 {name} {prec}: strongest peer {best:.3f} s; cpwl side missing")
                continue
            if "note" in cpwl:
                print(f"  cpwl: {cpwl['note']}")
            cs = float(cpwl["cpwl_seconds"])
            print(f"W3 {name} {prec}: strongest peer {best:.3f} s, cpwl {cs:.4f} s, ratio peer/cpwl {best / cs:.2f}")
            report_cold(cpwl)
            if "lc_mean" in cpwl:
                print(f"  LC mean: peer {float(totals.mean()):.6f}, cpwl {float(cpwl['lc_mean']):.6f}")
            theirs = load_cpwl_array(cpwl, "counts_file")
            if theirs is not None:
                same = theirs.shape == tuple(ref_counts.shape) and bool((theirs == ref_counts.numpy()).all())
                print(f"  per-point per-layer counts, cpwl vs the {args.routes[0]} route {prec} (shape {theirs.shape}): "
                      f"{'IDENTICAL' if same else 'DIFFERENT'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
