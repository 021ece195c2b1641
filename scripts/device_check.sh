#!/usr/bin/env bash
# The GPU checks of the `cuda` feature, run ON the device machine from the
# binaries that scripts/device_build.sh made (the device machine has no
# cargo and no network). Under 8 minutes on an H100 (each step has its own
# time limit; the sum is 480 s).
#
# The exact device call (the session's `run` tool), after
# `scripts/device_build.sh` here:
#
#   run(command="scripts/device_check.sh", carry=["device-bin"], timeout_s=540)
#
# Steps:
#   1. device and driver; the CUDA libraries made findable (scripts/cuda_libs.sh)
#   2. the crate's CUDA unit tests (cpwl_lib cuda)
#   3. the parity suite with the conformance kit on the CUDA backend
#      (backend_parity: every kernel, every layer kind, the shared vectors)
#   4. resident point sets (lc_prepared) and the LES route (les_grams_route)
#   5. CPU backend vs CUDA backend (cuda_parity --threads 16): W5, W3, W4,
#      the affine map, then W3 LC with the points resident on the device at
#      three checkpoints (target 10x the 16-thread CPU backend) and W4
#      `scales::les_with` through `les_grams` (target 20x)
#   6. a summary: each step's result and the SUMMARY ratio lines
#
# Without a GPU (no working `nvidia-smi`) it prints SKIPPED and exits 0
# having measured nothing; DEVICE_CHECK_FORCE=1 runs the steps anyway (each
# binary then reports its own skips). Exits 1 when a step fails, or when a
# GPU is present and a test still skipped its CUDA part. Logs go to
# $OUT/device-check (the folder the `run` tool brings back) or /tmp.
set -uo pipefail
cd "$(dirname "$0")/.."

bin=device-bin
logs="${OUT:-/tmp}/device-check"
mkdir -p "$logs"
started=$(date +%s)

if [[ ! -x "$bin/cuda_parity" ]]; then
    echo "no $bin/cuda_parity: run scripts/device_build.sh first (on the build machine)" >&2
    exit 2
fi
echo "== binaries from commit: $(head -1 "$bin/COMMIT" 2>/dev/null || echo unknown)"

echo "== device"
gpu=yes
if ! nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null; then
    gpu=no
    echo "(no working nvidia-smi)"
    if [[ "${DEVICE_CHECK_FORCE:-0}" != 1 ]]; then
        echo "SKIPPED: no NVIDIA GPU on this machine; nothing measured"
        exit 0
    fi
fi
# shellcheck source=scripts/cuda_libs.sh
source scripts/cuda_libs.sh
link_cuda_libraries
export CPWL_VECTORS="$PWD/tests/data/vectors"
echo "CPU: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

results=()
# step NAME SECONDS COMMAND...: runs a step with a time limit, logging it.
step() {
    local name=$1 limit=$2 rc
    shift 2
    echo "== $name (limit ${limit} s)"
    timeout "$limit" "$@" 2>&1 | tee "$logs/$name.log"
    rc=${PIPESTATUS[0]}
    local verdict=PASS
    if (( rc == 124 )); then
        verdict="TIMEOUT"
    elif (( rc != 0 )); then
        verdict="FAIL (exit $rc)"
    elif [[ $gpu == yes ]] && grep -q "skipping" "$logs/$name.log"; then
        verdict="FAIL (skipped its CUDA part on a machine with a GPU)"
    fi
    results+=("$name: $verdict")
}

step cuda_unit_tests 90 "$bin/cpwl_lib" cuda --test-threads 1 --nocapture
step parity_kit 150 "$bin/backend_parity" --nocapture
step lc_prepared 45 "$bin/lc_prepared" --nocapture
step les_grams_route 45 "$bin/les_grams_route" --nocapture
step cpu_vs_gpu 150 "$bin/cuda_parity" --repeat 3 --threads 16

echo
echo "== summary ($(( $(date +%s) - started )) s; load: $(cut -d' ' -f1-3 /proc/loadavg))"
failed=0
for r in "${results[@]}"; do
    echo "  $r"
    [[ $r == *": PASS" ]] || failed=1
done
grep -h "^SUMMARY\|speed-up\|FAILED" "$logs/cpu_vs_gpu.log" | sed 's/^/  /'
exit $failed
