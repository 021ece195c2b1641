#!/usr/bin/env python3
"""Writes data/digits.bin: the 8x8 handwritten digits of scikit-learn.

Source: the test part of the UCI "Optical Recognition of Handwritten Digits"
data set (optdigits; Alpaydin and Kaynak, 1998), as shipped by scikit-learn
(`sklearn.datasets.load_digits`). Licence: CC BY 4.0.

Format: 1797 records of 65 bytes: 64 pixel values (0..16, row-major 8x8)
followed by the label (0..9). No header.

Run from anywhere: `python3 data/make_digits.py`. When scikit-learn is not
importable, it is installed into a temporary virtual environment first.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "digits.bin")


def write_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    data, target = digits.data, digits.target
    assert data.shape == (1797, 64), data.shape
    out = bytearray()
    for pixels, label in zip(data, target):
        values = [int(v) for v in pixels]
        assert all(0 <= v <= 16 for v in values)
        out.extend(values)
        out.append(int(label))
    with open(OUT, "wb") as f:
        f.write(out)
    print(f"wrote {OUT}: {len(out)} bytes")


def rerun_in_venv():
    with tempfile.TemporaryDirectory() as venv:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = os.path.join(venv, "bin", "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet", "scikit-learn"], check=True)
        subprocess.run([python, os.path.abspath(__file__), "--in-venv"], check=True)


if __name__ == "__main__":
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if "--in-venv" in sys.argv:
            raise
        rerun_in_venv()
    else:
        write_digits()
