#!/usr/bin/env bash
# Builds HERE (a machine with cargo and the crates) the CUDA binaries that
# scripts/device_check.sh runs on the device machine, which has no network
# and no cargo, and copies them, stripped, into device-bin/ (ignored by git,
# carried to the device next to the working tree; carry limit 64 MiB).
#
#   scripts/device_build.sh          # then run scripts/device_check.sh there
#
# Binaries (all release, feature `cuda`; cudarc loads libcuda, libnvrtc and
# libcublas at run time, so no CUDA toolkit is needed here):
#   cpwl_lib         the crate's unit tests (device_check runs those named cuda)
#   backend_parity   tests/backend_parity.rs with `testing`: every kernel and
#                    the public conformance kit on the CUDA backend
#   lc_prepared      tests/lc_prepared.rs: resident point sets vs plain LC
#   les_grams_route  tests/les_grams_route.rs: scales::les through les_grams
#   cuda_parity      examples/cuda_parity.rs: W3/W4/W5 timings, W3 resident
#                    LC and W4 scales::les against the CPU backend
set -euo pipefail
cd "$(dirname "$0")/.."

out=device-bin
limit=$((64 * 1024 * 1024))
features=cuda,testing

# The executable cargo reports for a `--no-run` test build (the last
# artifact with an executable).
test_exe() {
    cargo test --release --no-run --features "$features" "$@" --message-format=json \
        | grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4
}

echo "== building (release, features $features)"
cargo build --release --features "$features" --example cuda_parity
lib=$(test_exe --lib)
parity=$(test_exe --test backend_parity)
prepared=$(test_exe --test lc_prepared)
route=$(test_exe --test les_grams_route)
example="${CARGO_TARGET_DIR:-target}/release/examples/cuda_parity"

rm -rf "$out"
mkdir -p "$out"
cp "$lib" "$out/cpwl_lib"
cp "$parity" "$out/backend_parity"
cp "$prepared" "$out/lc_prepared"
cp "$route" "$out/les_grams_route"
cp "$example" "$out/cuda_parity"
strip "$out"/*
git rev-parse HEAD > "$out/COMMIT"
git status --porcelain --untracked-files=no | sed 's/^/dirty: /' >> "$out/COMMIT"

size=$(du -sb "$out" | cut -f1)
ls -l "$out"
echo "device-bin: $size bytes (limit $limit)"
if (( size >= limit )); then
    echo "device-bin is too large to carry" >&2
    exit 1
fi
