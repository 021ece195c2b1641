#!/usr/bin/env bash
# Creates benches/peers/.venv and installs the peers' pinned Python packages.
# Usage: bash benches/peers/setup.sh   (from anywhere; idempotent)
#
# Only PyPI is reachable from our machines, so torch comes from PyPI's default
# wheel. That wheel declares the nvidia-* CUDA runtime packages as
# dependencies and refuses to import without them, so they are installed too
# (a few GB); the peers run on the CPU only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$venv/bin/python" - <<'PY'
import numpy, scipy, torch
print(f"peers venv ready: numpy {numpy.__version__}, scipy {scipy.__version__}, torch {torch.__version__}")
PY
