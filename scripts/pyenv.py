"""Runs a fixture script inside a virtual environment that has its packages.

Used by scripts/export_fixtures.py and tests/fixtures/export_onnx.py: when the
modules cannot be imported, creates (once) the environment named by
$CPWL_PYENV, or target/<default_name> under the repository root, installs the
packages from PyPI into it and re-executes the calling script there.
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ensure_environment(modules, packages, default_name, script):
    """Returns when `modules` import; otherwise re-runs `script` in the environment."""
    try:
        for module in modules:
            importlib.import_module(module)
        return
    except ImportError:
        pass
    if os.environ.get("CPWL_PYENV_ACTIVE"):
        sys.exit("the virtual environment lacks " + ", ".join(modules))
    env_dir = Path(os.environ.get("CPWL_PYENV", ROOT / "target" / default_name))
    python = env_dir / "bin" / "python"
    if not python.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(env_dir)])
    subprocess.check_call([str(python), "-m", "pip", "install", "--quiet", *packages])
    env = dict(os.environ, CPWL_PYENV_ACTIVE="1")
    os.execve(str(python), [str(python), str(script), *sys.argv[1:]], env)
