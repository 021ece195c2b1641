#!/usr/bin/env bash
# Every peer beside cpwl, for a quiet window. EXPECTED DURATION: about 5 to 8
# minutes on a quiet 2-core machine after the build (at most ~15 minutes; the
# LP walk on the larger W2 boxes is most of it), plus the release build of the
# `peer` example when it is stale.
#
# For each workload: the load average before, the peer and cpwl on the same
# files in one invocation (each peer script times itself, then runs cpwl's
# `examples/peer.rs` on the same inputs and prints both times, the ratio
# peer/cpwl and whether the results agree), the load average after.
#
#   W1   h = 40 (~1.1e5 regions), full output: 2-D edge subdivision with faces
#        and SplineCam-style (w1_slice.py) vs cpwl plane_split; then the box
#        form of edge subdivision on the same slice (patterns hashed on both sides)
#   W2   d = 3, 4, 6, 8: d-dimensional edge subdivision vs cpwl's methods, on
#        the spec's boxes (h = 0.1, 0.04, 0.025, 0.015) and on the peers'
#        boxes of a few thousand regions (about twice those); pattern sets compared
#   W3   LC of 10,000 points, folded torch peer f64 and f32 vs cpwl
#   W5   forward + patterns, and + Jacobians, torch f64 vs cpwl (checksums compared)
#
# Usage (from anywhere):  scripts/quiet_bench.sh [--no-build] 2>&1 | tee quiet_bench.log
# Environment:
#   W2_METHODS   cpwl methods for W2 by name (default "lp skeleton"; a method this
#                build lacks is reported as "cpwl side missing" and the rest goes on)
#   W1_METHODS   cpwl methods on the W1 slice (default "plane_split skeleton")
#   PY           the peers' python (default benches/peers/.venv/bin/python;
#                made by `bash benches/peers/setup.sh`)
#   THREADS      torch and cpwl threads for W3 and W5 (default 2)
#   ES_THREADS   torch threads of the edge-subdivision peers (default 1: their
#                many small operations do not gain from more)
#   REPEAT       best of this many runs where a script repeats (default 3): the peer's and,
#                for W2 and W3, cpwl's too (CPWL_PEER_REPEAT; its first, cold run is printed beside)
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PY:-$root/benches/peers/.venv/bin/python}"
THREADS="${THREADS:-2}"
ES_THREADS="${ES_THREADS:-1}"
REPEAT="${REPEAT:-3}"
W2_METHODS="${W2_METHODS:-lp skeleton}"
W1_METHODS="${W1_METHODS:-plane_split skeleton}"
target="${CARGO_TARGET_DIR:-$root/target}"

if [ ! -x "$PY" ]; then
    echo "no peers venv at $PY: run 'bash benches/peers/setup.sh' first" >&2
    exit 1
fi
if [ "${1:-}" != "--no-build" ]; then
    # serde lets the example take any Method by name (skeleton once it lands).
    cargo build --quiet --release --features serde --example peer || exit 1
fi
export CPWL_PEER_CMD="$target/release/examples/peer"
[ -x "$CPWL_PEER_CMD" ] || { echo "missing $CPWL_PEER_CMD" >&2; exit 1; }

load() { echo "load average $1: $(cut -d' ' -f1-3 /proc/loadavg)"; }

# section <title> <command...>: load before, the command (timed), load after.
section() {
    local title="$1"
    shift
    echo
    echo "################ $title"
    load before
    local start=$SECONDS
    "$@" || echo "!! $title: exit status $? (a mismatch or a failure; see above)"
    echo "($title: $((SECONDS - start)) s wall)"
    load after
}

echo "quiet_bench: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(nproc) cores, threads $THREADS"
start_all=$SECONDS
P=benches/peers
# shellcheck disable=SC2086  # the method lists are meant to split into words
{
    section "W1 h=40: edge subdivision with faces, SplineCam-style vs cpwl" \
        "$PY" $P/w1_slice.py --half-widths 40 --skip-plain --threads "$ES_THREADS"
    section "W1 h=40: edge subdivision (box form, patterns hashed) vs cpwl $W1_METHODS" \
        "$PY" $P/w2_edge_subdivision.py --slice w1 --half-widths 40 --methods $W1_METHODS \
        --repeat "$REPEAT" --threads "$ES_THREADS"
    section "W2 spec boxes: edge subdivision d-D vs cpwl $W2_METHODS" \
        "$PY" $P/w2_edge_subdivision.py --boxes spec --methods $W2_METHODS --repeat "$REPEAT" --threads "$ES_THREADS"
    section "W2 peers' boxes (a few thousand regions): edge subdivision d-D vs cpwl $W2_METHODS" \
        "$PY" $P/w2_edge_subdivision.py --boxes peers --methods $W2_METHODS --repeat "$REPEAT" --threads "$ES_THREADS"
    section "W3 LC MLP, 10,000 points: folded torch f64/f32 vs cpwl" \
        "$PY" $P/w3_lc.py --nets mlp --routes folded --precisions f64 f32 --repeat "$REPEAT" --threads "$THREADS"
    section "W5 forward + patterns, + Jacobians: torch f64 vs cpwl" \
        "$PY" $P/w5_forward.py --repeat 5 --threads "$THREADS"
}
echo
echo "quiet_bench: done in $((SECONDS - start_all)) s"
