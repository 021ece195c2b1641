#!/usr/bin/env bash
# Compiles the CUDA kernels as plain C++ (with a shim for the CUDA built-ins)
# and checks them against reference loops, on any machine with a C++
# compiler: no GPU or CUDA toolkit needed. Contraction is off, as NVRTC's
# --fmad=false, so the checks can compare bits.
set -euo pipefail
cd "$(dirname "$0")"
out="${TMPDIR:-/tmp}/cpwl_cu_host_check"
"${CXX:-c++}" -std=c++17 -O1 -ffp-contract=off -Wall -Wno-unused-function -o "$out" cu_host_check.cpp
"$out"
