"""The rounds ``greenabc bench`` measures its cases in, and their summary.

A *case* is one piece of work done by several *sides*: greenabc's (``ours``)
and its contenders. Each side runs the whole work once and returns its metrics
(``{"us": per-operation microseconds, ...}``). Each round runs every case's
sides in a shuffled order, and each round's ratio (ours / contender) is taken
within the round, so drift on a busy machine hits both sides alike. The
summary gives the median and the min-max of those per-round ratios, never a
ratio of medians.
"""

from __future__ import annotations

import contextlib
import gc
import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Metrics = dict[str, float]
Side = Callable[[], Metrics]


@dataclass
class Case:
    """One piece of work; ``sides[ours]`` is greenabc's, the rest contend."""

    name: str
    title: str
    unit: str  # of the main metric, "us"
    ours: str
    sides: dict[str, Side]
    # Metrics whose per-round ratio (ours / contender) is summarised.
    ratio_metrics: tuple[str, ...] = ("us",)
    label: str = ""  # short, for a narrow table
    notes: dict[str, str] = field(default_factory=dict)  # side -> footnote


def run_rounds(
    cases: Sequence[Case], rounds: int, emit: Callable[[dict[str, Any]], None], seed: int = 0
) -> dict[str, Any]:
    """Run every case ``rounds`` times, sides shuffled each round; summarise
    each side's metrics and each contender's per-round ratios."""
    order = random.Random(seed)  # noqa: S311 (an order, not a secret)
    raw: dict[str, dict[str, list[Metrics]]] = {c.name: {s: [] for s in c.sides} for c in cases}
    steps, step = rounds * len(cases), 0
    for r in range(rounds):
        for case in cases:
            emit(
                {
                    "event": "progress",
                    "step": step,
                    "steps": steps,
                    "label": f"{case.name} r{r + 1}",
                }
            )
            sides = list(case.sides.items())
            order.shuffle(sides)
            for name, side in sides:
                gc.collect()
                try:
                    raw[case.name][name].append(side())
                except Exception as exc:  # a contender that breaks is reported, not fatal
                    raw[case.name][name].append({"error": 1.0})
                    emit({"event": "error", "case": case.name, "side": name, "error": repr(exc)})
            step += 1
    emit({"event": "progress", "step": steps, "steps": steps, "label": "done"})
    return {"rounds": rounds, "cases": [summarise(case, raw[case.name]) for case in cases]}


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(case: Case, runs: dict[str, list[Metrics]]) -> dict[str, Any]:
    sides: dict[str, Any] = {}
    for name, per_round in runs.items():
        ok = [m for m in per_round if "error" not in m]
        keys = ok[0].keys() if ok else ()
        sides[name] = {key: _stats([m[key] for m in ok]) for key in keys}
        if len(ok) < len(per_round):
            sides[name]["errors"] = len(per_round) - len(ok)
    ratios: dict[str, Any] = {}
    ours = runs[case.ours]
    for name, per_round in runs.items():
        if name == case.ours:
            continue
        ratios[name] = {}
        for key in case.ratio_metrics:
            values = [
                a[key] / b[key]
                for a, b in zip(ours, per_round, strict=True)
                if key in a and key in b and b[key] > 0 and a[key] < float("inf")
            ]
            if values:
                ratios[name][key] = _stats(values)
    return {
        "name": case.name,
        "title": case.title,
        "label": case.label or case.name,
        "unit": case.unit,
        "ours": case.ours,
        "sides": sides,
        "ratios": ratios,
        "metrics": list(case.ratio_metrics),
        "notes": case.notes,
    }


def emit_line(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def versions(
    dists: Sequence[str] = ("greenabc", "gevent", "eventlet", "greenlet"),
) -> dict[str, str]:
    import importlib.metadata as md
    import platform

    from .._core._compiled import form

    found = {"python": platform.python_version(), "greenabc core": form()}
    for dist in dists:
        with contextlib.suppress(md.PackageNotFoundError):
            found[dist] = md.version(dist)
    return found
