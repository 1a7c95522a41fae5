"""What every case module shares: a side is a callable that does the whole
work once and returns its metrics (``{"us": per-operation µs, ...}``), as
``greenabc bench`` measures them; ``suite`` (typed ``Any``) is the object
``greenabc bench --extend`` hands to ``benchmarks.cases:extend``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

Metrics = dict[str, float]
Side = Callable[[], Metrics]
ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 300  # s for one side in a process of its own


def process_side(module: str, *args: str) -> Side:
    """A side run in a fresh process each time, ``python -m MODULE ARGS``
    from the repository's root, its metrics the last line it prints (JSON)."""

    def run() -> Metrics:
        out = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            cwd=ROOT,
        )
        if out.returncode:
            raise RuntimeError((out.stderr.strip().splitlines() or ["?"])[-1])
        metrics: Metrics = json.loads(out.stdout.strip().splitlines()[-1])
        return metrics

    return run


def noop() -> None:
    return None
