"""greenabc.futures.Executor against concurrent.futures.ThreadPoolExecutor
(on a green engine, patched threading makes its workers green threads) and
futurist's executor, submit+result of trivial calls at the same worker count."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import futurist_pools


def add(suite: Any, n: int) -> None:
    from greenabc.futures import Executor

    backend, workers = suite.backend.name, suite.size

    def ours(max_workers: int) -> Executor:
        return Executor(max_workers, backend=backend)

    sides = {
        "greenabc.futures.Executor": futurist_pools.submit_side(ours, n, workers),
        "ThreadPoolExecutor"
        + (" (patched)" if backend != "threads" else ""): futurist_pools.submit_side(
            ThreadPoolExecutor, n, workers
        ),
    }
    make = futurist_pools.executor_class(backend)
    if make is not None:
        sides[f"futurist {make.__name__}"] = futurist_pools.submit_side(make, n, workers)
    title = f"executor submit+result ({n:,} calls, {workers} workers)"
    suite.add("executor", title, "greenabc.futures.Executor", sides, label="executor")
