"""greenabc.aio against each engine's own way between green code (or
threads) and asyncio, one crossing at a time and many at once:

* green -> asyncio, one call awaited at a time: ``greenabc.aio.run`` against
  ``asyncio.run_coroutine_threadsafe(...).result()`` to a loop in a thread and
  anyio's ``from_thread`` (a blocking portal) on threads; asyncio-gevent
  (its loop in a greenlet on the hub) on gevent;
* asyncio -> green: ``await greenabc.aio.run_sync`` against
  ``loop.run_in_executor`` and ``anyio.to_thread.run_sync`` on threads;
  asyncio-gevent's ``greenlet_to_future`` on gevent;
* 10,000 crossings at once (green tasks each awaiting a coroutine, and a
  coroutine gathering run_sync calls): wall time per crossing, and the
  resident memory per crossing while 10,000 are in flight, greenabc alone.

eventlet's own bridge is its asyncio hub, chosen for the whole process before
eventlet runs: it runs in a process of its own (``aio_eventlet_hub.py``),
timed the same way inside.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from .common import Metrics, Side, noop, process_side

N = 2_000  # crossings per side per round
CONCURRENT = 10_000


async def _nop() -> None:
    return None


def _per_call(n: int, started: float) -> Metrics:
    return {"us": (time.perf_counter() - started) / n * 1e6}


def _ours_run(backend: str, n: int) -> Side:
    from greenabc import aio

    def side() -> Metrics:
        aio.run(_nop, backend=backend)  # the loop is started before the clock
        started = time.perf_counter()
        for _ in range(n):
            aio.run(_nop, backend=backend)
        return _per_call(n, started)

    return side


def _ours_run_sync(backend: str, n: int) -> Side:
    from greenabc import aio

    async def main() -> Metrics:
        await aio.run_sync(noop, backend=backend)
        started = time.perf_counter()
        for _ in range(n):
            await aio.run_sync(noop, backend=backend)
        return _per_call(n, started)

    def side() -> Metrics:
        return aio.run(main, backend=backend)

    return side


class _ThreadLoop:
    """A plain asyncio loop in a thread of its own (the threads peers')."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _threadsafe_run(n: int) -> Side:
    def side() -> Metrics:
        home = _ThreadLoop()
        try:
            asyncio.run_coroutine_threadsafe(_nop(), home.loop).result()
            started = time.perf_counter()
            for _ in range(n):
                asyncio.run_coroutine_threadsafe(_nop(), home.loop).result()
            return _per_call(n, started)
        finally:
            home.close()

    return side


def _run_in_executor(n: int) -> Side:
    async def main() -> Metrics:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, noop)
        started = time.perf_counter()
        for _ in range(n):
            await loop.run_in_executor(None, noop)
        return _per_call(n, started)

    return lambda: asyncio.run(main())


def _anyio_from_thread(n: int) -> Side:
    from anyio.from_thread import start_blocking_portal

    def side() -> Metrics:
        with start_blocking_portal() as portal:
            portal.call(_nop)
            started = time.perf_counter()
            for _ in range(n):
                portal.call(_nop)
            return _per_call(n, started)

    return side


def _anyio_to_thread(n: int) -> Side:
    import anyio
    import anyio.to_thread

    async def main() -> Metrics:
        await anyio.to_thread.run_sync(noop)
        started = time.perf_counter()
        for _ in range(n):
            await anyio.to_thread.run_sync(noop)
        return _per_call(n, started)

    return lambda: anyio.run(main)


def _asyncio_gevent_sides(n: int) -> tuple[Side, Side]:
    """asyncio-gevent: its loop in a greenlet, on the hub."""
    import asyncio_gevent
    import gevent
    import gevent.event

    def with_loop(work: Callable[[asyncio.AbstractEventLoop], Metrics]) -> Metrics:
        loop = asyncio_gevent.EventLoop()
        runner = gevent.spawn(loop.run_forever)
        gevent.sleep(0)
        try:
            return work(loop)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            runner.join()
            loop.close()

    def cross(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
        # Into the loop's greenlet as asyncio-gevent's own future_to_greenlet
        # does (a task and a gevent Event), woken through the self-pipe: its
        # ensure_future from another greenlet leaves the loop asleep.
        done = gevent.event.Event()
        box: list[Any] = []

        def start() -> None:
            task = loop.create_task(coro)
            task.add_done_callback(lambda t: (box.append(t.result()), done.set()))

        loop.call_soon_threadsafe(start)
        done.wait()
        return box[0]

    def run(loop: asyncio.AbstractEventLoop) -> Metrics:
        cross(loop, _nop())
        started = time.perf_counter()
        for _ in range(n):
            cross(loop, _nop())
        return _per_call(n, started)

    async def main() -> Metrics:
        await asyncio_gevent.greenlet_to_future(gevent.Greenlet(noop))
        started = time.perf_counter()
        for _ in range(n):
            await asyncio_gevent.greenlet_to_future(gevent.Greenlet(noop))
        return _per_call(n, started)

    return (lambda: with_loop(run)), (lambda: with_loop(lambda loop: cross(loop, main())))


#: In the memory half of a concurrent side, how long each crossing stays in
#: flight, and when (after all started) the resident set is read.
HOLD = 0.5
MEASURE_AT = 0.25


def _rss_kib() -> float:
    """The resident set now (not the peak: the peak only grows round after round)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024


def _concurrent_run(backend: Any, n: int) -> Side:
    """n green tasks each in aio.run at once: the wall time per crossing of
    brief coroutines, then the resident memory per crossing in flight."""
    from greenabc import aio

    async def briefly(seconds: float) -> None:
        await asyncio.sleep(seconds)

    def side() -> Metrics:
        aio.run(_nop, backend=backend.name)
        pool = backend.create_pool(n)
        try:
            started = time.perf_counter()
            tasks = [pool.spawn(aio.run, briefly, 0.001, backend=backend.name) for _ in range(n)]
            for task in tasks:
                task.get()
            metrics = _per_call(n, started)
            before = _rss_kib()
            tasks = [pool.spawn(aio.run, briefly, HOLD, backend=backend.name) for _ in range(n)]
            backend.sleep(MEASURE_AT)
            in_flight = _rss_kib()
            for task in tasks:
                task.get()
        finally:
            pool.close()
        return {**metrics, "kib_per_call": (in_flight - before) / n}

    return side


def _concurrent_run_sync(backend: Any, n: int) -> Side:
    """One coroutine gathering n run_sync calls, measured as above."""
    from greenabc import aio

    async def main() -> Metrics:
        await aio.run_sync(noop, backend=backend.name)
        started = time.perf_counter()
        await asyncio.gather(*(aio.run_sync(time.sleep, 0.001) for _ in range(n)))
        metrics = _per_call(n, started)
        before = _rss_kib()
        calls = asyncio.gather(*(aio.run_sync(time.sleep, HOLD) for _ in range(n)))
        await asyncio.sleep(MEASURE_AT)
        in_flight = _rss_kib()
        await calls
        return {**metrics, "kib_per_call": (in_flight - before) / n}

    return lambda: aio.run(main, backend=backend.name)


def add(suite: Any) -> None:
    backend = suite.backend
    name = backend.name
    n = N if suite.sizes.tasks >= 20_000 else N // 4
    to_async: dict[str, Side] = {"greenabc.aio.run": _ours_run(name, n)}
    to_green: dict[str, Side] = {"greenabc.aio.run_sync": _ours_run_sync(name, n)}
    has_anyio = importlib.util.find_spec("anyio") is not None
    if name == "threads":
        to_async["run_coroutine_threadsafe"] = _threadsafe_run(n)
        to_green["loop.run_in_executor"] = _run_in_executor(n)
        if has_anyio:
            to_async["anyio from_thread (portal)"] = _anyio_from_thread(n)
            to_green["anyio.to_thread.run_sync"] = _anyio_to_thread(n)
            suite.note_versions("anyio")
    elif name == "gevent" and importlib.util.find_spec("asyncio_gevent") is not None:
        run_side, run_sync_side = _asyncio_gevent_sides(n)
        to_async["asyncio-gevent (loop on the hub)"] = run_side
        to_green["asyncio-gevent greenlet_to_future"] = run_sync_side
        suite.note_versions("asyncio-gevent")
    elif name == "eventlet":
        hub = "benchmarks.cases.aio_eventlet_hub"
        to_async["eventlet asyncio hub spawn_for_awaitable"] = process_side(hub, "run", str(n))
        to_green["eventlet asyncio hub await spawn"] = process_side(hub, "run_sync", str(n))
    suite.add(
        "aio/run",
        f"green -> asyncio, one call at a time ({n:,})",
        "greenabc.aio.run",
        to_async,
        label="aio.run",
    )
    suite.add(
        "aio/run_sync",
        f"asyncio -> green, one call at a time ({n:,})",
        "greenabc.aio.run_sync",
        to_green,
        label="aio.run_sync",
    )
    count = CONCURRENT if suite.sizes.tasks >= 20_000 else CONCURRENT // 5
    suite.add(
        "aio/concurrent",
        f"{count:,} crossings at once, each way",
        "run",
        {"run": _concurrent_run(backend, count), "run_sync": _concurrent_run_sync(backend, count)},
        ratio_metrics=(),
        label="aio x10k",
    )


def alone(suite: Any) -> None:
    """These cases only, none of ``greenabc bench``'s own:
    ``python -m greenabc bench --backend gevent --tasks 20000 --rounds 5
    --extend benchmarks.cases.aio_bridge:alone``."""
    suite.cases.clear()
    add(suite)
