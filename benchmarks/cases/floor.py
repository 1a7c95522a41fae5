"""The floor: what a greenlet switch and a greenlet's creation cost on this
machine, with no engine at all. Every green figure reads against these."""

from __future__ import annotations

import time
from typing import Any

from .common import Metrics


def switch_round_trip(n: int) -> Metrics:
    import greenlet

    main = greenlet.getcurrent()

    def bounce() -> None:
        while True:
            main.switch()

    other = greenlet.greenlet(bounce)
    other.switch()
    switch = other.switch
    started = time.perf_counter()
    for _ in range(n):
        switch()  # there and back
    elapsed = time.perf_counter() - started
    other.throw(greenlet.GreenletExit)
    return {"us": elapsed / n * 1e6}


def create_run(n: int) -> Metrics:
    import greenlet

    make = greenlet.greenlet

    def noop() -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        make(noop).switch()
    return {"us": (time.perf_counter() - started) / n * 1e6}


def add(suite: Any, n: int) -> None:
    suite.add(
        "floor",
        f"the floor: greenlet switch round trip, greenlet create+run ({n:,})",
        "greenlet switch round trip",
        {
            "greenlet switch round trip": lambda: switch_round_trip(n),
            "greenlet create+run": lambda: create_run(n),
        },
        ratio_metrics=(),
        label="floor",
    )
