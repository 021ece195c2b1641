"""W4 peer: LES of latent points of a CPWL decoder with categorical outputs.

Score (Ronen, Humayun, Balestriero, Baraniuk, Yu, "Mitigating over-exploration
in latent space optimization using LES", arXiv 2406.09657): with logits l(z)
(L positions x V symbols, position-major), p_t = softmax(l_t), Z_t = sum_v
exp(l_tv), A = dl/dz and S_t the (V+1) x V matrix [diag(p_t) - p_t p_t^T ;
-p_t^T / Z_t], J = blockdiag(S_t) A and LES(z) = -1/2 log det(J^T J)
= -sum_i log sigma_i(J).

Two routes, as performance.md asks:
* reference: the published route: A by float32 forward differences (step
  1e-4, one batched forward of z and z + h e_j), dense blockdiag(S_t)
  (L(V+1) x LV), dense J, singular values of J;
* exact: A by forward-mode autodiff (torch.func.jacfwd under vmap) in float64,
  the Gram matrix J^T J = sum_t (S_t A_t)^T (S_t A_t) block by block (J never
  formed), log det by Cholesky; log(1/Z_t) from a log-sum-exp.

Usage: python w4_les.py [--latents 1000] [--ref-latents 200] [--threads 2] [--check-vectors]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np
import torch
from torch.func import jacfwd, vmap

import workloads
from common import load_cpwl_array, run_cpwl, set_torch_threads, stopwatch, vectors_pass

# torch.func's first use warns that torch.jit.script is deprecated; not ours to fix.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")

FD_STEP = 1e-4
EXACT_BATCH = 50
REF_BATCH = 10


def decoder(weights, biases, act="relu", slope=0.01):
    if act == "relu":
        nonlin = torch.relu
    elif act == "leaky_relu":
        nonlin = lambda x: torch.nn.functional.leaky_relu(x, slope)  # noqa: E731
    else:
        nonlin = torch.abs

    def logits(z):
        h = z
        for w, b in zip(weights[:-1], biases[:-1]):
            h = nonlin(h @ w.T + b)
        return h @ weights[-1].T + biases[-1]

    return logits


def les_reference(weights, biases, z, length, vocab, act="relu", slope=0.01):
    """Float32 forward differences, dense S, dense J, SVD (one latent at a time after the forward)."""
    w = [torch.as_tensor(x, dtype=torch.float32) for x in weights]
    b = [torch.as_tensor(x, dtype=torch.float32) for x in biases]
    f = decoder(w, b, act, slope)
    dim = z.shape[1]
    steps = torch.cat([torch.zeros(1, dim), FD_STEP * torch.eye(dim)]).to(torch.float32)
    out = []
    for zb in torch.split(torch.as_tensor(z, dtype=torch.float32), REF_BATCH):
        l = f((zb[:, None, :] + steps[None]).reshape(-1, dim)).reshape(zb.shape[0], dim + 1, -1)
        jac = ((l[:, 1:] - l[:, :1]) / FD_STEP).transpose(1, 2)  # (B, L*V, d)
        for l0, a in zip(l[:, 0], jac):
            lt = l0.reshape(length, vocab)
            p = torch.softmax(lt, dim=1)
            zt = torch.exp(lt).sum(dim=1)
            top = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
            s = torch.cat([top, (-p / zt[:, None])[:, None, :]], dim=1)  # (L, V+1, V)
            dense_s = torch.block_diag(*s)  # (L(V+1), L V)
            sigma = torch.linalg.svdvals(dense_s @ a)
            out.append(-torch.log(sigma).sum())
    return torch.stack(out).to(torch.float64).numpy()


def les_exact(weights, biases, z, length, vocab, act="relu", slope=0.01):
    """Exact f64 Jacobian by jacfwd + vmap, blockwise Gram, Cholesky log det."""
    w = [torch.as_tensor(x, dtype=torch.float64) for x in weights]
    b = [torch.as_tensor(x, dtype=torch.float64) for x in biases]
    f = decoder(w, b, act, slope)
    jac_fn = vmap(jacfwd(f))
    out = []
    for zb in torch.split(torch.as_tensor(z, dtype=torch.float64), EXACT_BATCH):
        n, dim = zb.shape
        lt = f(zb).reshape(n, length, vocab)
        a = jac_fn(zb).reshape(n, length, vocab, dim)
        p = torch.softmax(lt, dim=2)
        inv_z = torch.exp(-torch.logsumexp(lt, dim=2))
        pa = torch.einsum("blv,blvd->bld", p, a)  # p_t^T A_t
        top = p[..., None] * (a - pa[:, :, None, :])  # (D_t - p_t p_t^T) A_t
        last = -inv_z[..., None] * pa  # -(p_t^T A_t) / Z_t
        gram = torch.einsum("blvd,blve->bde", top, top) + torch.einsum("bld,ble->bde", last, last)
        chol, info = torch.linalg.cholesky_ex(gram)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(dim=1)
        les = -0.5 * logdet
        les[info != 0] = float("inf")  # rank-deficient J: LES is +infinity
        out.append(les)
    return torch.cat(out).numpy()


def check_vectors(vec_dir) -> bool:
    ok_all = True
    for d in sorted((vec_dir / "scales").iterdir()):
        spec = json.loads((d / "expected.json").read_text())
        weights, biases, act, slope = workloads.load_mlp(d / "net.npz")
        z = np.load(d / "z.npy")
        want = np.array(spec["scores"]["les"], dtype=np.float64)
        got = les_exact(weights, biases, z, spec["seq_len"], spec["vocab"], act, slope)
        with torch.inference_mode():
            ref = les_reference(weights, biases, z, spec["seq_len"], spec["vocab"], act, slope)
        rel = np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)))
        ok = rel <= spec["rtol"]
        ok_all &= ok
        print(f"  {d.name}: exact route max rel err {rel:.2e} -> {'OK' if ok else 'MISMATCH'}; "
              f"reference route max |diff| {np.abs(ref - want).max():.3g}")
    return ok_all


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latents", type=int, default=workloads.W4_LATENTS, help="latents for the exact route and cpwl")
    ap.add_argument("--ref-latents", type=int, default=200, help="latents for the (slow) reference route")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check-vectors", action="store_true")
    args = ap.parse_args()
    set_torch_threads(args.threads)
    if args.check_vectors and not vectors_pass("the exact route against shared scales vectors", check_vectors):
        return 1
    d = workloads.ensure("w4")
    weights, biases, _, _ = workloads.load_mlp(d / "decoder.npz")
    z = np.load(d / "z.npy")[: args.latents]
    length, vocab = workloads.W4_LENGTH, workloads.W4_VOCAB
    n_ref = min(args.ref_latents, len(z))
    print(f"W4: decoder {'-'.join(str(w.shape[1]) for w in weights)}-{weights[-1].shape[0]} (L = {length}, V = {vocab}), "
          f"{len(z)} latents, torch threads {torch.get_num_threads()}")

    with torch.inference_mode(), stopwatch() as t:
        ref = les_reference(weights, biases, z[:n_ref], length, vocab)
    ref_s = t()
    print(f"reference route (f32 FD, dense S, SVD): {n_ref} latents, {ref_s:.3f} s, {1e3 * ref_s / n_ref:.2f} ms/latent")

    with stopwatch() as t:
        exact = les_exact(weights, biases, z, length, vocab)
    exact_s = t()
    np.save(d / "peer_les_exact.npy", exact)
    print(f"exact route (jacfwd + vmap f64, blockwise Gram, Cholesky): {len(z)} latents, {exact_s:.3f} s, "
          f"{1e3 * exact_s / len(z):.2f} ms/latent; LES mean {exact.mean():.6f}, non-finite {int((~np.isfinite(exact)).sum())}")
    diff = np.abs(ref - exact[:n_ref])
    print(f"|reference - exact| over {n_ref} latents: max {diff.max():.4g}, mean {diff.mean():.4g}")

    cpwl = run_cpwl("w4", d, len(z))
    if cpwl is None:
        print(f"W4: reference {1e3 * ref_s / n_ref:.2f} ms/latent, exact {1e3 * exact_s / len(z):.2f} ms/latent; cpwl side missing")
        return 0
    per = float(cpwl["cpwl_seconds"]) / len(z)
    print(f"W4: cpwl {1e3 * per:.3f} ms/latent; ratio reference/cpwl {ref_s / n_ref / per:.1f}, exact/cpwl {exact_s / len(z) / per:.1f}")
    if "les_mean" in cpwl:
        print(f"  LES mean: exact peer {exact.mean():.10f}, cpwl {float(cpwl['les_mean']):.10f}")
    theirs = load_cpwl_array(cpwl, "les_file")
    if theirs is not None and theirs.shape == exact.shape:
        rel = np.abs(theirs - exact) / np.maximum(1.0, np.abs(exact))
        print(f"  cpwl vs exact peer: max relative difference {rel.max():.3g}")
    elif theirs is not None:
        print(f"  les_file has shape {theirs.shape}, expected {exact.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
