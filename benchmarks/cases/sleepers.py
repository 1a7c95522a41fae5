"""10k tasks sleeping 0.1 s at once: wall time and the process's peak RSS.
One side per process (peak RSS is per process), both set up alike: the same
imports, patched the same way; only the pool that runs the naps differs."""

from __future__ import annotations

import time
from typing import Any

NAP = 0.1
SIDES = ("greenabc", "raw")


def run(backend: Any, side: str, n: int) -> float:
    """Wall seconds to run *n* naps at once on *side*."""
    started = time.perf_counter()
    if side == "greenabc":
        pool = backend.create_pool(n)
        sleep = backend.sleep
        tasks = [pool.spawn(sleep, NAP) for _ in range(n)]
        for task in tasks:
            task.get()
        pool.close()
    elif backend.name == "gevent":
        import gevent
        import gevent.pool

        raw = gevent.pool.Pool(n)
        for _ in range(n):
            raw.spawn(gevent.sleep, NAP)
        raw.join()
    elif backend.name == "eventlet":
        import eventlet

        green = eventlet.GreenPool(n)
        for _ in range(n):
            green.spawn(eventlet.sleep, NAP)
        green.waitall()
    else:
        raise ValueError(f"no raw side on {backend.name}")
    return time.perf_counter() - started
