"""futurist's executors (OpenStack's): GreenThreadPoolExecutor on eventlet
(it is built on eventlet; futurist imports eventlet when it can, so it is
never imported in the gevent process), ThreadPoolExecutor on threads."""

from __future__ import annotations

import time
from typing import Any

from .common import Metrics, Side, noop


def submit_side(make: Any, n: int, workers: int) -> Side:
    def run() -> Metrics:
        executor = make(max_workers=workers)
        try:
            started = time.perf_counter()
            futures = [executor.submit(noop) for _ in range(n)]
            for future in futures:
                future.result()
            return {"us": (time.perf_counter() - started) / n * 1e6}
        finally:
            executor.shutdown(wait=True)

    return run


def executor_class(backend: str) -> Any:
    if backend == "gevent":
        return None
    try:
        import futurist
    except ImportError:
        return None
    return (
        futurist.GreenThreadPoolExecutor if backend == "eventlet" else futurist.ThreadPoolExecutor
    )


def add_to(suite: Any) -> None:
    """futurist as a contender in the spawn case (it has no per-task limit)."""
    backend = suite.backend.name
    make = executor_class(backend)
    case = suite.case("spawn")
    if make is None:
        why = "futurist has no gevent executor" if backend == "gevent" else "not installed"
        case.notes["futurist"] = why
        return
    suite.note_versions("futurist")
    case.sides[f"futurist {make.__name__} submit+result"] = submit_side(
        make, suite.sizes.tasks, suite.size
    )
