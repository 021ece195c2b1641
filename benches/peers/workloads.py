"""Deterministic workloads W1-W4 shared by the peer scripts and the crate.

Every array is drawn from numpy's PCG64 generator (`numpy.random.default_rng`)
with a fixed seed, so the files are identical on every machine and numpy 2.x
version. Files go to `<repo>/target/peers/<workload>/`; networks use the
crate's `.npz` convention (W0, b0, W1, b1, ... float64 in PyTorch (out, in)
layout, `act` a 0-d unicode array, `slope` a 0-d float64).

Initialisation of every network here ("He"): weights ~ N(0, 2 / fan_in)
(PyTorch's `kaiming_normal_` with fan_in and the ReLU gain), biases
~ N(0, 0.01^2). The small random biases keep the networks generic: with zero
biases every first-layer hyperplane would pass through the origin and units
fed only by dead units would be identically zero.

Run `python workloads.py` to (re)write all files; the peer scripts call
`ensure(...)` themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

BIAS_STD = 0.01

# W1: 2-D slice of a 784-200-200-200-10 ReLU MLP through three points.
W1_WIDTHS = [784, 200, 200, 200, 10]
W1_NET_SEED = 0
W1_SLICE_SEED = 1
W1_HALF_WIDTHS = [7.0, 40.0]  # about 1.1e4 and 1.1e5 regions
# W1b: the 200-wide network saturates near 1.5e5 regions; 500-wide layers
# (same seeds, same slice points) give 1,000,543 regions in [-100, 100]^2
# (784-400-400-400-10 gave 490,822 at h = 40 and 629,307 at h = 100).
W1B_WIDTHS = [784, 500, 500, 500, 10]
W1B_HALF_WIDTH = 100.0

# W2: LP enumeration of d-64-64-64-1 MLPs in the box [-h, h]^d.
# PyTorch's default Linear init (not He): with He weights and N(0, 0.01^2)
# biases every first-layer hyperplane passes within ~0.01 of the origin and
# the spec's boxes (h = 0.1, 0.04, 0.025, 0.015) hold 1e5 to 1e6 regions
# (sampling 1e6 points found 133k, 552k, 974k, 996k patterns). With the
# default init the spec's boxes hold a few hundred; twice their half-widths
# (about) hold a few thousand (patterns hit by 5e5 samples, a lower bound:
# d=3 h=0.2: 2698; d=4 h=0.1: 2130; d=6 h=0.05: 2185; d=8 h=0.04: 2009). The growth list gives
# a few smaller boxes for the growth-with-h report.
W2_DIMS_AND_HALF_WIDTHS = [(3, 0.2), (4, 0.1), (6, 0.05), (8, 0.04)]
W2_SPEC_HALF_WIDTHS = {3: 0.1, 4: 0.04, 6: 0.025, 8: 0.015}
W2_HIDDEN = [64, 64, 64]
W2_SEED_BASE = 20  # network of dimension d uses seed W2_SEED_BASE + d

# W3: local complexity of 10,000 points.
W3_POINTS = 10_000
W3_POINT_SEED = 2
W3_CNN_SEED = 4
W3_DIRECTIONS = 25
W3_DIRECTION_SEED = 0
W3_RADIUS = 0.005

# W5: batched forward + patterns (+ Jacobians) of 4096 points through the W1 network.
W5_POINTS = 4096
W5_POINT_SEED = 5

# W4: LES of a decoder d -> 256 -> 256 -> L*V.
W4_LATENT_DIM = 56
W4_HIDDEN = [256, 256]
W4_LENGTH = 120
W4_VOCAB = 35
W4_LATENTS = 1000
W4_SEED = 3


def repo_root() -> Path:
    """The crate's root (this file lives in <root>/benches/peers/)."""
    return Path(__file__).resolve().parents[2]


def workload_dir(name: str) -> Path:
    d = repo_root() / "target" / "peers" / name
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---------------------------------------------------------------- networks


def he_mlp(widths: list[int], rng: np.random.Generator):
    """Weights (out, in) ~ N(0, 2/fan_in), biases ~ N(0, BIAS_STD^2)."""
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        weights.append(rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in))
        biases.append(rng.standard_normal(fan_out) * BIAS_STD)
    return weights, biases


def torch_default_mlp(widths: list[int], rng: np.random.Generator):
    """PyTorch's nn.Linear default: weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    weights, biases = [], []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)))
        biases.append(rng.uniform(-bound, bound, fan_out))
    return weights, biases


def save_mlp(path: Path, weights, biases, act: str = "relu", slope: float = 0.01) -> None:
    arrays = {}
    for k, (w, b) in enumerate(zip(weights, biases)):
        arrays[f"W{k}"] = np.ascontiguousarray(w, dtype=np.float64)
        arrays[f"b{k}"] = np.ascontiguousarray(b, dtype=np.float64)
    arrays["act"] = np.array(act)
    arrays["slope"] = np.array(slope, dtype=np.float64)
    np.savez(path, **arrays)


def load_mlp(path: Path):
    """(weights, biases, act, slope) from a crate-convention .npz."""
    with np.load(path) as z:
        n = sum(1 for k in z.files if k.startswith("W"))
        weights = [z[f"W{k}"].astype(np.float64) for k in range(n)]
        biases = [z[f"b{k}"].astype(np.float64) for k in range(n)]
        act = str(z["act"]) if "act" in z.files else "relu"
        slope = float(z["slope"]) if "slope" in z.files else 0.01
    return weights, biases, act, slope


def plane_basis(x0, x1, x2):
    """Orthonormal (u, v) of the plane through x0, x1, x2 (Gram-Schmidt)."""
    u = x1 - x0
    u = u / np.linalg.norm(u)
    w = x2 - x0
    w = w - (u @ w) * u
    return u, w / np.linalg.norm(w)


# CNN of W3 (PyTorch NCHW; flatten in (C, H, W) order as torch.flatten does).
W3_CNN_ARCH = {
    "input": [1, 28, 28],
    "layers": [
        {"type": "conv2d", "name": "conv0", "in": 1, "out": 8, "kernel": 3, "stride": 1, "padding": 1, "act": "relu", "out_shape": [8, 28, 28]},
        {"type": "conv2d", "name": "conv1", "in": 8, "out": 16, "kernel": 3, "stride": 2, "padding": 1, "act": "relu", "out_shape": [16, 14, 14]},
        {"type": "conv2d", "name": "conv2", "in": 16, "out": 16, "kernel": 3, "stride": 2, "padding": 1, "act": "relu", "out_shape": [16, 7, 7]},
        {"type": "flatten", "order": "CHW"},
        {"type": "linear", "name": "fc", "in": 784, "out": 10, "act": None},
    ],
    "init": "weights N(0, 2/fan_in) with fan_in = in_channels*k*k (or in), biases N(0, 0.01^2), drawn in layer order, weight before bias",
    "lc_counted_layers": "conv0, conv1, conv2 (every channel x position a unit); the output layer is not counted",
}


def he_cnn(rng: np.random.Generator) -> dict[str, np.ndarray]:
    params = {}
    for layer in W3_CNN_ARCH["layers"]:
        if layer["type"] == "conv2d":
            k = layer["kernel"]
            fan_in = layer["in"] * k * k
            shape = (layer["out"], layer["in"], k, k)
        elif layer["type"] == "linear":
            fan_in = layer["in"]
            shape = (layer["out"], layer["in"])
        else:
            continue
        params[layer["name"] + ".weight"] = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        params[layer["name"] + ".bias"] = rng.standard_normal(layer["out"]) * BIAS_STD
    return params


# ---------------------------------------------------------------- workloads


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def _make_slice_workload(name: str, label: str, widths: list[int], slice_note: str, extra: dict) -> Path:
    """A 2-D slice workload: a He-initialised MLP of `widths` and the plane
    through three uniform points, with its description."""
    d = workload_dir(name)
    weights, biases = he_mlp(widths, np.random.default_rng(W1_NET_SEED))
    save_mlp(d / "net.npz", weights, biases)
    pts = np.random.default_rng(W1_SLICE_SEED).random((3, widths[0]))
    u, v = plane_basis(*pts)
    np.savez(d / "slice.npz", x0=pts[0], x1=pts[1], x2=pts[2], u=u, v=v)
    _write_json(d / "workload.json", {
        "workload": label,
        "net": "net.npz",
        "arch": widths,
        "init": f"He normal (fan_in), biases N(0, {BIAS_STD}^2), numpy default_rng({W1_NET_SEED}), layer order, weight then bias",
        "slice": slice_note,
        "windows": "square [-h, h]^2 in (s, t), x = x0 + s u + t v",
        **extra,
    })
    return d


def make_w1() -> Path:
    note = "slice.npz: x0, x1, x2 ~ U[0,1]^784 (default_rng(%d), one (3, 784) draw), u, v by Gram-Schmidt" % W1_SLICE_SEED
    return _make_slice_workload("w1", "W1", W1_WIDTHS, note, {"half_widths": W1_HALF_WIDTHS})


def make_w1b() -> Path:
    note = "slice.npz: as W1 (default_rng(%d), one (3, 784) draw)" % W1_SLICE_SEED
    extra = {"half_widths": [W1B_HALF_WIDTH], "regions": 1000543}
    return _make_slice_workload("w1b", "W1b", W1B_WIDTHS, note, extra)


def make_w2() -> Path:
    root = workload_dir("w2")
    for dim, h in W2_DIMS_AND_HALF_WIDTHS:
        d = workload_dir(f"w2/d{dim}")
        seed = W2_SEED_BASE + dim
        weights, biases = torch_default_mlp([dim, *W2_HIDDEN, 1], np.random.default_rng(seed))
        save_mlp(d / "net.npz", weights, biases)
        _write_json(d / "workload.json", {
            "workload": "W2", "dim": dim, "arch": [dim, *W2_HIDDEN, 1], "box_half_width": h,
            "growth_half_widths": [h / 4, h / 2, h, W2_SPEC_HALF_WIDTHS[dim]],
            "init": f"PyTorch Linear default: weights and biases U(+-1/sqrt(fan_in)), numpy default_rng({seed}), "
                    "layer order, weight then bias",
        })
    return root


def reference_directions(dim: int, count: int, seed: int):
    """Reference-compatible LC directions (spec local_complexity.md), float64 numpy (count x dim).

    torch.manual_seed(seed); the weight of Linear(dim, count) drawn in float64
    with PyTorch's default init (uniform on +-1/sqrt(dim)); rows
    orthonormalised in order (thin QR of W^T, positive diagonal of R).
    """
    import torch

    if count >= dim:
        raise ValueError("only count < dim is supported by the peers")
    torch.manual_seed(seed)
    w = torch.nn.Linear(dim, count, dtype=torch.float64).weight.detach()
    q, r = torch.linalg.qr(w.T)
    q = q * torch.sign(torch.diagonal(r))
    return q.T.contiguous().numpy()


def make_w3() -> Path:
    d = workload_dir("w3")
    weights, biases = he_mlp(W1_WIDTHS, np.random.default_rng(W1_NET_SEED))
    save_mlp(d / "mlp.npz", weights, biases)
    np.save(d / "points.npy", np.random.default_rng(W3_POINT_SEED).random((W3_POINTS, 784)))
    np.savez(d / "cnn.npz", **he_cnn(np.random.default_rng(W3_CNN_SEED)))
    np.save(d / "directions.npy", reference_directions(784, W3_DIRECTIONS, W3_DIRECTION_SEED))
    _write_json(d / "cnn_arch.json", W3_CNN_ARCH)
    _write_json(d / "workload.json", {
        "workload": "W3",
        "mlp": "mlp.npz (the W1 network)",
        "cnn": "cnn.npz + cnn_arch.json (PyTorch state-dict names)",
        "points": f"points.npy: {W3_POINTS} x 784 ~ U[0,1], default_rng({W3_POINT_SEED}); the CNN reads each row as a 1x28x28 image",
        "directions": f"reference-compatible, P = {W3_DIRECTIONS}, seed {W3_DIRECTION_SEED} (directions.npy, P x 784)",
        "radius": W3_RADIUS,
        "mlp_counts_output_layer": True,
        "cnn_counts_output_layer": False,
    })
    return d


def make_w4() -> Path:
    d = workload_dir("w4")
    rng = np.random.default_rng(W4_SEED)
    widths = [W4_LATENT_DIM, *W4_HIDDEN, W4_LENGTH * W4_VOCAB]
    weights, biases = he_mlp(widths, rng)
    save_mlp(d / "decoder.npz", weights, biases)
    np.save(d / "z.npy", rng.standard_normal((W4_LATENTS, W4_LATENT_DIM)))
    _write_json(d / "workload.json", {
        "workload": "W4", "arch": widths, "length": W4_LENGTH, "vocab": W4_VOCAB,
        "logits_layout": "position-major: logit index t*V + v",
        "init": f"He normal (fan_in), biases N(0, {BIAS_STD}^2); one default_rng({W4_SEED}) draws the network, then z",
        "z": f"z.npy: {W4_LATENTS} x {W4_LATENT_DIM} ~ N(0, 1)",
        "score": "LES = -1/2 log det(J^T J)",
    })
    return d


def make_w5() -> Path:
    d = workload_dir("w5")
    weights, biases = he_mlp(W1_WIDTHS, np.random.default_rng(W1_NET_SEED))
    save_mlp(d / "net.npz", weights, biases)
    np.save(d / "points.npy", np.random.default_rng(W5_POINT_SEED).random((W5_POINTS, W1_WIDTHS[0])))
    _write_json(d / "workload.json", {
        "workload": "W5",
        "net": "net.npz (the W1 network)",
        "points": f"points.npy: {W5_POINTS} x {W1_WIDTHS[0]} ~ U[0,1], default_rng({W5_POINT_SEED})",
        "work": "forward + patterns; forward + patterns + exact Jacobians (outputs x inputs per point)",
    })
    return d


MAKERS = {"w1": make_w1, "w1b": make_w1b, "w2": make_w2, "w3": make_w3, "w4": make_w4, "w5": make_w5}


def ensure(name: str) -> Path:
    """Writes workload `name` (always: generation is cheap and deterministic)."""
    return MAKERS[name]()


if __name__ == "__main__":
    for name in sys.argv[1:] or MAKERS:
        print(name, "->", ensure(name))
