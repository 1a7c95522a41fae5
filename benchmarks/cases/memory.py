"""Peak-RSS cases: 10k tasks sleeping 0.1 s at once (sleepers.py) and 1,000
loopback echo clients (echo.py). Peak RSS is per process, so each side runs
in a fresh process of its own, set up alike (the same imports, patched the
same way), started by the side; the rounds shuffle the sides as for any case
and take the ratio within the round. The fresh process is this module:

    python -m benchmarks.cases.memory ENGINE CASE SIDE

Threads are not measured (10k OS threads)."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

from .common import process_side

COUNTS = {"sleepers": 10_000, "echo": 1_000}  # tasks / clients, quick or not
RAW = {"gevent": "gevent.pool.Pool", "eventlet": "eventlet.GreenPool"}
TITLES = {
    "sleepers": f"{COUNTS['sleepers']:,} tasks sleeping 0.1 s at once",
    "echo": f"{COUNTS['echo']:,} loopback echo clients x 10 round trips",
}


def add(suite: Any) -> None:
    engine = suite.backend.name
    if engine not in RAW:
        return
    for case in COUNTS:
        sides = {
            "greenabc": process_side(__name__, engine, case, "greenabc"),
            RAW[engine]: process_side(__name__, engine, case, "raw"),
        }
        suite.add(
            case,
            TITLES[case],
            "greenabc",
            sides,
            unit="s",
            ratio_metrics=("wall_s", "rss_mib", "growth_mib"),
            label=case,
        )


def peak_rss_kib() -> float:
    """This process's peak RSS since it started (VmHWM). Not ``ru_maxrss``:
    Linux keeps that across ``execve``, so it would report the peak of the
    (large) benchmark process that started this one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def main(engine: str, case: str, side: str) -> None:
    import greenabc

    greenabc.patch(engine)
    backend = greenabc.get_backend(engine)
    from . import echo, sleepers

    module = {"sleepers": sleepers, "echo": echo}[case]
    before = peak_rss_kib()
    wall = module.run(backend, side, COUNTS[case])
    peak = peak_rss_kib()
    print(
        json.dumps({"wall_s": wall, "rss_mib": peak / 1024, "growth_mib": (peak - before) / 1024})
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
