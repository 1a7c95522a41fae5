"""The cyclic collector in the benchmarks: its time per 100k tasks and its
longest single pause during a fault soak (a mix of successes, failures,
kills, hard and soft timeouts and resizes, the caller keeping every task
handle), and the objects each finished task leaves for it, by outcome. Both
come from ``benchmarks/reliability.py``, which reports them as well: one soak,
one way to count. Greenabc alone (no peer runs the same soak), so the figures
are reported as the median and min-max of the rounds, not as ratios."""

from __future__ import annotations

import logging
import random
from typing import Any

from .common import Metrics

CYCLE_TASKS = 2_000  # per outcome, per round


def add(suite: Any) -> None:
    from benchmarks import reliability

    backend = suite.backend
    quick = suite.sizes.tasks < 100_000
    seeds = iter(range(10**6))

    def soak() -> Metrics:
        checks = reliability.Checks()  # the soak's invariants: reliability.py's job, not this
        logger = logging.getLogger("greenabc")
        counter = reliability.LogCounter()  # the raising callbacks' records, off stderr
        logger.addHandler(counter)
        logger.propagate = False
        try:
            out = reliability.fault_soak(
                backend.name, backend, random.Random(next(seeds)), quick, checks
            )
        finally:
            logger.removeHandler(counter)
            logger.propagate = True
        keys = ("gc_ms_per_100k", "gc_longest_pause_ms", "gc_gen2_collections", "wall_s")
        return {key: float(out[key]) for key in keys}

    def cycles() -> Metrics:
        found = reliability.cycles_per_task(backend.name, backend, CYCLE_TASKS)
        return {outcome.replace(" ", "_"): count for outcome, count in found.items()}

    tasks = 10_000 if quick else 100_000
    for name, title, side, run, unit, label in (
        (
            "gc_soak",
            f"cyclic GC during a fault soak ({tasks:,} tasks): ms per 100k tasks, longest pause",
            "greenabc fault soak",
            soak,
            "ms",
            "GC in a fault soak",
        ),
        (
            "gc_cycles",
            "objects left for the cyclic collector per finished task"
            f" ({CYCLE_TASKS:,} per outcome)",
            "greenabc pool",
            cycles,
            "objects",
            "GC cycles per task",
        ),
    ):
        suite.add(name, title, side, {side: run}, unit=unit, ratio_metrics=(), label=label)
