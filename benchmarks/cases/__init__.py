"""The cases benchmarks/run.py adds to ``greenabc bench``'s, in the same
rounds: ``greenabc bench --extend benchmarks.cases:extend`` hands
:func:`extend` its suite (the patched backend, the sizes, its cases) after
patching. One module per kind of peer or work; each imports its engine or
peer inside its functions, so nothing here is imported before the patch."""

from __future__ import annotations

from typing import Any


def extend(suite: Any) -> None:
    from . import (
        aio_bridge,
        celery_pools,
        check_patching,
        executor,
        floor,
        futurist_pools,
        gc_figures,
        memory,
        peer_timers,
        primitives,
    )

    small = suite.sizes.tasks // 4  # the slowest peers: fewer tasks, the same per-task figure
    celery_pools.add_to(suite)
    futurist_pools.add_to(suite)
    peer_timers.add_to(suite)
    celery_pools.greenabc_vs_celery(suite, small)
    executor.add(suite, small)
    if suite.backend.name == "threads":
        floor.add(suite, suite.sizes.tasks)
        # Where greenabc's bound costs (2 workers), where reuse pays most (32),
        # and issue 19's ThreadPoolExecutor(64).
        for workers in (2, 32, 64):
            suite.add_spawn("spawn", workers, f"spawn_{workers}_workers")
    primitives.add(suite)
    memory.add(suite)
    check_patching.add(suite)
    gc_figures.add(suite)
    aio_bridge.add(suite)
