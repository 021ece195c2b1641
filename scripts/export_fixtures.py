#!/usr/bin/env python3
"""Exports the PyTorch fixtures of tests/formats_pytorch.rs with current PyTorch.

Run from anywhere:  python3 scripts/export_fixtures.py

It needs torch, onnx, onnxscript, safetensors and numpy. It uses the virtual
environment named by $CPWL_PYENV when that is set, and otherwise creates (once)
target/pyenv-export under the repository root and installs the packages from PyPI
into it, then re-runs itself there. `cargo test` never runs this script: its
outputs are committed.

Every classifier is exported twice, with the default exporter
(`torch.onnx.export(model, (x,), path)`, i.e. `dynamo=True`, which writes large
weights to `<name>.onnx.data` next to the model) and with `dynamo=False`.
Weights are float64 and seeded, except the `_f32` model, which is exported as
users usually train (float32).

Outputs, under tests/fixtures/pytorch/:
  <model>_dynamo.onnx (+ .onnx.data), <model>_legacy.onnx
  <model>_io.npz      x: inputs (n, ...); logits: the outputs before any
                      Softmax/LogSoftmax head; out: the model's own outputs
                      (float64; for the _f32 model also logits64, PyTorch's
                      logits of the same float32 weights computed in float64)
  <state>.safetensors PyTorch state dicts (float64, num_batches_tracked kept)
                      with <state>_io.npz (x, logits)
  VERSIONS.txt        the package versions that wrote the files
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from pyenv import ensure_environment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "pytorch"
PACKAGES = ["torch", "onnx", "onnxscript", "safetensors", "numpy"]
N_SAMPLES = 8


ensure_environment(["numpy", "onnx", "onnxscript", "safetensors", "torch"], PACKAGES, "pyenv-export", __file__)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxscript  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402


def randomize_batch_norm(model):
    """Gives every batch norm non-trivial statistics, so that folding it matters."""
    gen = torch.Generator().manual_seed(11)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=gen, dtype=torch.float64) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=gen, dtype=torch.float64) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen, dtype=torch.float64) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen, dtype=torch.float64) * 0.2)
            m.num_batches_tracked.fill_(7)
    return model


class Residual(nn.Module):
    """x + body(x)."""

    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x):
        return x + self.body(x)


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.LeakyReLU(0.1), nn.Linear(16, 3))


def mlp_bn():
    return nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4))


def cnn():
    # 1x8x8 -> conv 3x3 pad 1 -> 4x8x8 -> pool 2 -> 4x4x4 -> conv 3x3 -> 6x2x2 -> 24 -> 5
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(24, 5),
    )


def cnn_same():
    # The state-dict CNN: every conv 3x3 with padding 1 (stride 1), then one dense layer.
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4),
    )


def resnet_mlp():
    return nn.Sequential(nn.Linear(4, 10), nn.ReLU(), Residual(10), nn.ReLU(), nn.Linear(10, 3))


# name -> (model factory, per-sample input shape, head or None)
CLASSIFIERS = {
    "mlp": (mlp, (6,), None),
    "mlp_softmax": (mlp, (6,), nn.Softmax(dim=1)),
    "mlp_logsoftmax": (mlp, (6,), nn.LogSoftmax(dim=-1)),
    "mlp_bn_softmax": (mlp_bn, (5,), nn.Softmax(dim=-1)),
    "cnn_logsoftmax": (cnn, (1, 8, 8), nn.LogSoftmax(dim=1)),
    "resnet_mlp_softmax": (resnet_mlp, (4,), nn.Softmax(dim=1)),
}


def build(factory, head, seed):
    torch.manual_seed(seed)
    body = randomize_batch_norm(factory().double()).eval()
    model = nn.Sequential(body, head) if head is not None else body
    return body, model.eval()


def inputs(shape, seed):
    gen = torch.Generator().manual_seed(1000 + seed)
    return torch.randn((N_SAMPLES, *shape), generator=gen, dtype=torch.float64)


def export_both(model, x, name):
    """The default (dynamo) exporter and the TorchScript one, as a user calls them."""
    for suffix in ("_dynamo.onnx", "_legacy.onnx", "_dynamo.onnx.data"):
        (OUT / f"{name}{suffix}").unlink(missing_ok=True)
    torch.onnx.export(model, (x[:2],), str(OUT / f"{name}_dynamo.onnx"))
    torch.onnx.export(model, (x[:2],), str(OUT / f"{name}_legacy.onnx"), dynamo=False)
    for suffix in ("_dynamo.onnx", "_legacy.onnx"):
        onnx.checker.check_model(str(OUT / f"{name}{suffix}"))


def write_classifiers():
    for seed, (name, (factory, shape, head)) in enumerate(CLASSIFIERS.items()):
        body, model = build(factory, head, seed)
        x = inputs(shape, seed)
        with torch.no_grad():
            logits, out = body(x), model(x)
        export_both(model, x, name)
        np.savez(OUT / f"{name}_io.npz", x=x.numpy(), logits=logits.numpy(), out=out.numpy())


def write_float32_classifier():
    """A float32 export (what most users have), with float32 and float64 reference logits."""
    torch.manual_seed(42)
    body = mlp().eval()
    model = nn.Sequential(body, nn.Softmax(dim=1)).eval()
    x = inputs((6,), 42).float()
    with torch.no_grad():
        logits32 = body(x)
        logits64 = body.double()(x.double())
        body.float()
        out = model(x)
    export_both(model, x, "mlp_f32_softmax")
    np.savez(
        OUT / "mlp_f32_softmax_io.npz",
        x=x.double().numpy(),
        logits=logits32.double().numpy(),
        logits64=logits64.numpy(),
        out=out.double().numpy(),
    )


def write_state_dicts():
    """State dicts for the safetensors inference, with PyTorch's names and buffers."""
    for seed, (name, factory, shape) in enumerate(
        [("mlp_bn_state", mlp_bn, (5,)), ("cnn_state", cnn_same, (2, 5, 5)), ("mlp_state", mlp, (6,))]
    ):
        torch.manual_seed(100 + seed)
        model = randomize_batch_norm(factory().double()).eval()
        x = inputs(shape, 100 + seed)
        with torch.no_grad():
            logits = model(x)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(OUT / f"{name}.safetensors"))
        np.savez(OUT / f"{name}_io.npz", x=x.numpy(), logits=logits.numpy())


def les_reference(decoder, z, seq_len, vocab):
    """LES by autograd: -1/2 log det(J^T J), J the Jacobian of every position's
    softmax probabilities p_t and of its 1/Z_t (docs/guide.md, section 5)."""

    def probabilities_and_inverse_normalisers(point):
        logits = decoder(point).reshape(seq_len, vocab)
        z_t = torch.exp(logits).sum(dim=1, keepdim=True)
        return torch.cat([torch.softmax(logits, dim=1), 1.0 / z_t], dim=1).reshape(-1)

    scores = []
    for point in z:
        jac = torch.autograd.functional.jacobian(probabilities_and_inverse_normalisers, point)
        scores.append(-0.5 * torch.logdet(jac.T @ jac))
    return torch.stack(scores)


def write_les_decoder():
    """The guide's LES cross-check: a decoder in the .npz convention and LES by autograd."""
    torch.manual_seed(5)
    seq_len, vocab = 4, 5
    decoder = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, seq_len * vocab)).double()
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    scores = les_reference(decoder, z, seq_len, vocab)
    linears = [m for m in decoder if isinstance(m, nn.Linear)]
    np.savez(
        OUT / "les_decoder.npz",
        **{f"W{i}": m.weight.detach().numpy() for i, m in enumerate(linears)},
        **{f"b{i}": m.bias.detach().numpy() for i, m in enumerate(linears)},
        act="relu",
    )
    np.savez(OUT / "les_io.npz", z=z.numpy(), les=scores.numpy())
    print("LES by autograd:", [f"{v:.12f}" for v in scores.tolist()])


def main():
    # dynamo=False is deprecated, not gone: the fixtures check that its files still load.
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*legacy TorchScript")
    OUT.mkdir(parents=True, exist_ok=True)
    write_classifiers()
    write_float32_classifier()
    write_state_dicts()
    write_les_decoder()
    versions = {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }
    (OUT / "VERSIONS.txt").write_text("".join(f"{k} {v}\n" for k, v in versions.items()))
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
