#!/usr/bin/env bash
# Growth (issue #12 item 4): time and peak RSS against region count, for each
# method, into a CSV; `scripts/growth_table.py` turns it into the markdown
# table for docs/PERFORMANCE.md, and `cargo run --features plot --example
# growth_figure -- out.csv --timeout $TIMEOUT --out docs/growth.svg` into the
# figure (several CSVs: a later one's rows replace the same runs' earlier rows).
#
#   2-D: the W1 slice windows h = 2, 7, 40 (about 1e3, 1e4, 1.1e5 regions) and
#        W1b h = 100 (about 1e6); methods plane_split, skeleton, lp (cpwl) and
#        es (the edge-subdivision peer on the same slice)
#   d = 4 and 6: the W2 networks (target/peers/w2/d<d>) in boxes sized for about
#        1e3, 1e4 and 1e5 regions; methods lp, skeleton (cpwl) and es (peer)
#
# One process per (case, method) under /usr/bin/time -f '%e %M': the time is
# the method's own (cpwl_seconds / peer_seconds, files loaded before), the
# peak RSS that of the whole process (the peer's includes torch, ~0.3 GB).
# A method this build lacks, or a run past $TIMEOUT seconds, is a CSV row
# with its status instead of numbers. EXPECTED DURATION on a quiet 2-core
# machine: an hour or more in full (the LP walk at 1e5 regions in d = 6 and
# at 1e6 in 2-D runs into the timeout); --smoke runs the smallest size of each
# space only (about a minute).
#
# Usage: scripts/growth.sh [--smoke] [--no-build] [out.csv]   (default target/growth.csv)
# Environment: PY (peers' python), TIMEOUT (per run, default 900 s),
#   METHODS_2D (default "plane_split skeleton lp es"), METHODS_ND (default "lp skeleton es"),
#   W1_CASES, D4_HALF_WIDTHS, D6_HALF_WIDTHS (override the sizes below; an empty
#   D4_HALF_WIDTHS or D6_HALF_WIDTHS skips that dimension).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PY="${PY:-$root/benches/peers/.venv/bin/python}"
TIMEOUT="${TIMEOUT:-900}"
METHODS_2D="${METHODS_2D:-plane_split skeleton lp es}"
METHODS_ND="${METHODS_ND:-lp skeleton es}"
# workload:half-width; W1 saturates near 1.5e5 regions, so 1e6 is W1b.
W1_CASES="${W1_CASES:-w1:2 w1:7 w1:40 w1b:100}"
# Box half-widths for about 1e3, 1e4, 1e5 regions on the W2 networks.
D4_HALF_WIDTHS="${D4_HALF_WIDTHS-0.075 0.17 0.4}"
D6_HALF_WIDTHS="${D6_HALF_WIDTHS-0.035 0.058 0.1}"
smoke=0
build=1
out="$root/target/growth.csv"
for a in "$@"; do
    case "$a" in
        --smoke) smoke=1 ;;
        --no-build) build=0 ;;
        *) out="$a" ;;
    esac
done
if [ "$smoke" = 1 ]; then
    W1_CASES="${W1_CASES%% *}"
    D4_HALF_WIDTHS="${D4_HALF_WIDTHS%% *}"
    D6_HALF_WIDTHS="${D6_HALF_WIDTHS%% *}"
fi
target="${CARGO_TARGET_DIR:-$root/target}"
peer="$target/release/examples/peer"

[ -x "$PY" ] || { echo "no peers venv at $PY: run 'bash benches/peers/setup.sh' first" >&2; exit 1; }
if [ "$build" = 1 ]; then
    cargo build --quiet --release --features serde --example peer || exit 1
fi
[ -x "$peer" ] || { echo "missing $peer" >&2; exit 1; }
"$PY" benches/peers/workloads.py w1 w1b w2 >/dev/null || exit 1

# value <key> <file>: the value of the first `key=value` line.
value() { sed -n "s/^$1=//p" "$2" | head -n 1; }

# measure <space> <dim> <h> <method> <command...>: one CSV row.
measure() {
    local space="$1" dim="$2" h="$3" method="$4"
    shift 4
    local log rss
    log="$(mktemp)"
    rss="$(mktemp)"
    # time outside timeout: its child's rusage includes the reaped command's peak RSS.
    /usr/bin/time -f '%e %M' -o "$rss" timeout "$TIMEOUT" "$@" >"$log" 2>&1
    local rc=$? status=ok seconds regions peak
    seconds="$(value cpwl_seconds "$log")"
    regions="$(value regions "$log")"
    if [ "$method" = es ]; then
        seconds="$(value peer_seconds "$log")"
        regions="$(value peer_regions "$log")"
    fi
    peak="$(awk 'END {print $2}' "$rss")"
    if [ "$rc" = 124 ]; then
        status=timeout
    elif [ "$rc" != 0 ] || [ -z "$seconds" ]; then
        status="failed: $(grep -v '^\[' "$log" | tail -n 1 | tr ',' ';')"
        seconds=""
        regions=""
    fi
    echo "$space,$dim,$h,$method,$regions,$seconds,$peak,$status" | tee -a "$out"
    rm -f "$log" "$rss"
}

mkdir -p "$(dirname "$out")"
echo "space,dim,half_width,method,regions,seconds,peak_rss_kb,status" >"$out"
echo "# growth: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# shellcheck disable=SC2086  # the lists are meant to split into words
for case in $W1_CASES; do
    wl="${case%%:*}"
    h="${case##*:}"
    for m in $METHODS_2D; do
        if [ "$m" = es ]; then
            measure "$wl" 2 "$h" es "$PY" benches/peers/w2_edge_subdivision.py --slice "$wl" \
                --half-widths "$h" --methods --repeat 1
        else
            measure "$wl" 2 "$h" "$m" "$peer" w1 "target/peers/$wl" "$h" "$m"
        fi
    done
done
for dim in 4 6; do
    widths="$D4_HALF_WIDTHS"
    [ "$dim" = 6 ] && widths="$D6_HALF_WIDTHS"
    for h in $widths; do
        for m in $METHODS_ND; do
            if [ "$m" = es ]; then
                measure w2 "$dim" "$h" es "$PY" benches/peers/w2_edge_subdivision.py --dims "$dim" \
                    --half-widths "$h" --methods --repeat 1
            else
                measure w2 "$dim" "$h" "$m" "$peer" w2 "target/peers/w2/d$dim" "$h" "$m"
            fi
        done
    done
done
echo "# done: load $(cut -d' ' -f1-3 /proc/loadavg); table: python3 scripts/growth_table.py $out" >&2
