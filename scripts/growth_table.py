#!/usr/bin/env python3
"""Markdown tables from `scripts/growth.sh`'s CSV: per space and dimension, one
row per size, per method its regions, seconds, microseconds per region, peak
RSS (MB) and bytes of peak RSS per region. Plain Python (no packages).

Usage: python3 scripts/growth_table.py [target/growth.csv]
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict


def cell(row: dict[str, str]) -> str:
    if row["status"] != "ok":
        return row["status"].split(":")[0]
    regions, seconds, peak_kb = int(row["regions"]), float(row["seconds"]), float(row["peak_rss_kb"] or "nan")
    us = 1e6 * seconds / max(regions, 1)
    return f"{regions:,} / {seconds:.3g} s / {us:.3g} us / {peak_kb / 1024:.0f} MB / {1024 * peak_kb / max(regions, 1):,.0f} B"


def tables(rows: list[dict[str, str]]) -> str:
    groups: dict[tuple[str, str], dict[str, dict[str, dict[str, str]]]] = defaultdict(lambda: defaultdict(dict))
    methods: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        key = (row["space"], row["dim"])
        groups[key][row["half_width"]][row["method"]] = row
        if row["method"] not in methods[key]:
            methods[key].append(row["method"])
    out = []
    for key, sizes in groups.items():
        space, dim = key
        out.append(f"\n**{space}, d = {dim}** (cells: regions / time / per region / peak RSS / peak RSS per region)\n")
        out.append("| h | " + " | ".join(methods[key]) + " |")
        out.append("|---" * (len(methods[key]) + 1) + "|")
        for h, by_method in sizes.items():
            cells = [cell(by_method[m]) if m in by_method else "" for m in methods[key]]
            out.append(f"| {h} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "target/growth.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    print(tables(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
