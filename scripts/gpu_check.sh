#!/usr/bin/env bash
# The GPU checks of the `cuda` feature in one go, for a machine with an
# NVIDIA GPU and driver (the CUDA toolkit is not needed: cudarc loads
# libcuda, libnvrtc and libcublas at run time; the latter two must be on the
# library path, for example from the nvidia-cuda-nvrtc-cu12 and
# nvidia-cublas-cu12 wheels).
#
#   scripts/gpu_check.sh            build, then run everything
#   scripts/gpu_check.sh --quick    the example at a tenth of the workload sizes
#
# Without cargo (an offline device machine), set CPWL_GPU_BIN to a folder
# holding prebuilt binaries named backend_parity, cpwl_lib and cuda_parity
# (see `prebuild` below, run on a machine with the crates) and they are run
# instead. Test vectors are found through CPWL_VECTORS or ../shared/vectors.
#
# Steps: device and driver info; the host emulation of the kernels; the
# crate's cuda unit tests; the parity suite (tests/backend_parity.rs), which
# includes the CUDA backend when a GPU answers; the example with CPU vs GPU
# timings of W3, W4 and W5. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=1.0
if [[ "${1:-}" == "--quick" ]]; then
    scale=0.1
fi

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "(nvidia-smi not available)"

# shellcheck source=scripts/cuda_libs.sh
source scripts/cuda_libs.sh
link_cuda_libraries

echo "== kernels on the host (C++ emulation)"
if command -v "${CXX:-c++}" >/dev/null; then
    scripts/cu_host_check.sh
else
    echo "skipping: no C++ compiler"
fi

if [[ -n "${CPWL_GPU_BIN:-}" ]]; then
    echo "== prebuilt binaries from $CPWL_GPU_BIN"
    "$CPWL_GPU_BIN/cpwl_lib" cuda --nocapture --test-threads 1
    "$CPWL_GPU_BIN/backend_parity" --nocapture
    "$CPWL_GPU_BIN/cuda_parity" --scale "$scale"
    exit 0
fi

echo "== build (release, feature cuda)"
cargo build --release --features cuda --example cuda_parity
cargo test --release --features cuda --no-run --lib --test backend_parity

echo "== cuda unit tests"
cargo test --release --features cuda --lib cuda -- --nocapture

echo "== parity suite"
cargo test --release --features cuda --test backend_parity -- --nocapture

echo "== CPU vs GPU timings (W3, W4, W5)"
cargo run --release --features cuda --example cuda_parity -- --scale "$scale"

# To prepare CPWL_GPU_BIN on a machine with the crates (same OS and glibc):
#   prebuild() {
#       mkdir -p gpu-bin
#       cargo build --release --features cuda --example cuda_parity
#       cp "${CARGO_TARGET_DIR:-target}/release/examples/cuda_parity" gpu-bin/
#       for t in lib backend_parity; do
#           args=(--test "$t"); [[ $t == lib ]] && args=(--lib)
#           bin=$(cargo test --release --features cuda --no-run "${args[@]}" --message-format=json \
#               | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
#           cp "$bin" "gpu-bin/$([[ $t == lib ]] && echo cpwl_lib || echo "$t")"
#       done
#   }
