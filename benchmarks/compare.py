"""Per-round ratios of two benchmarks/run.py results side by side: did any
ratio regress?

    python benchmarks/compare.py BEFORE.json AFTER.json [--tolerance 0.10]

For every (engine, case, peer, metric) in both files, the median of the
per-round ratios greenabc / peer before and after. A ratio is flagged when
its median after is worse (higher) than before by more than the tolerance
*and* above the highest ratio any round before saw: both, so one noisy round
on a shared machine does not flag it. Reads the results of run.py before
issue 15 too (peak-RSS cases and primitives kept apart from the engines'
cases then).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

Key = tuple[str, str, str, str]  # engine, case, peer, metric
PRIMITIVE = "primitive/"


def ratios(results: dict[str, Any]) -> dict[Key, dict[str, float]]:
    found: dict[Key, dict[str, float]] = {}
    engines = {engine: list(r["cases"]) for engine, r in results["engines"].items()}
    for engine, r in results.get("rss", {}).items():  # the older layout
        engines.setdefault(engine, []).extend(r["cases"])
    for engine, case_list in engines.items():
        for case in case_list:
            for peer, metrics in case["ratios"].items():
                for metric, stats in metrics.items():
                    found[engine, case["name"], peer, metric] = stats
    for engine, r in results.get("primitives", {}).items():  # the older layout
        for row in r["results"]:
            name = PRIMITIVE + re.sub(r"\W+", "_", row["case"].lower()).strip("_")
            stats = {k: row[f"ratio_{k}"] for k in ("median", "min", "max")}
            found[engine, name, "raw", "ns"] = stats
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--tolerance", type=float, default=0.10, help="relative, default 0.10")
    args = parser.parse_args()
    before = ratios(json.loads(args.before.read_text()))
    after = ratios(json.loads(args.after.read_text()))
    worse = 0
    print(f"{'engine':9} {'case / peer / metric':78} {'before':>16} {'after':>16}")
    for key in sorted(before.keys() & after.keys()):
        b, a = before[key], after[key]
        flag = a["median"] > b["median"] * (1 + args.tolerance) and a["median"] > b["max"]
        worse += flag
        what = " / ".join(key[1:])
        print(
            f"{key[0]:9} {what[:78]:78} {b['median']:6.2f} ({b['min']:.2f}-{b['max']:.2f})"
            f" {a['median']:6.2f} ({a['min']:.2f}-{a['max']:.2f}){'  WORSE' if flag else ''}"
        )
    engines = {key[0] for key in before} & {key[0] for key in after}
    for name, keys in (
        ("before only", before.keys() - after.keys()),
        ("after only", after.keys() - before.keys()),
    ):
        for key in sorted(k for k in keys if k[0] in engines):
            print(f"{key[0]:9} {' / '.join(key[1:])[:78]:78} ({name})")
    print(f"\n{worse} ratio(s) worse beyond the tolerance and the rounds' range before")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
