"""eventlet's asyncio hub, the eventlet peer of ``greenabc.aio``, in a
process of its own (the hub is chosen for the whole process, before eventlet
runs): ``python -m benchmarks.cases.aio_eventlet_hub run|run_sync N`` prints
``{"us": per-crossing µs}``, one call awaited at a time, as aio_bridge.py
times greenabc's."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def main(which: str, n: int) -> dict[str, float]:
    os.environ["EVENTLET_HUB"] = "asyncio"
    import eventlet
    from eventlet.asyncio import spawn_for_awaitable

    async def nop() -> None:
        return None

    def noop() -> None:
        return None

    if which == "run":
        spawn_for_awaitable(nop()).wait()
        started = time.perf_counter()
        for _ in range(n):
            spawn_for_awaitable(nop()).wait()
        return {"us": (time.perf_counter() - started) / n * 1e6}

    async def awaits_green() -> dict[str, float]:
        await eventlet.spawn(noop)
        started = time.perf_counter()
        for _ in range(n):
            await eventlet.spawn(noop)
        return {"us": (time.perf_counter() - started) / n * 1e6}

    result: Any = spawn_for_awaitable(awaits_green()).wait()
    return dict(result)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
