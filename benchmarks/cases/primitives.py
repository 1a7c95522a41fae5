"""greenabc's primitives against the raw engine's own, in the same rounds as
every other case: per round, greenabc's object (made by the backend, as
``greenabc.Event()`` makes it) and the engine's own do the same operations,
in a shuffled order, and the ratio greenabc / raw is taken within the round.
Each side warms up (a few hundred operations) before it is timed.

The raw engine's own: gevent's ``gevent.event.Event``, ``gevent.lock.*``,
``gevent.queue.Queue``, ``gevent.local.local``, the hub's threadpool;
eventlet's ``eventlet.queue.Queue``, ``eventlet.lock.Lock``,
``eventlet.semaphore.Semaphore``, ``tpool.execute`` and, where eventlet has no
class of its own with the stdlib's API (Event, RLock, Condition), the patched
``threading`` one; on threads, ``threading`` and ``queue``. Green threads for
the hand-off cases are the engine's own on both sides.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from .common import Metrics, Side, noop

N = 20_000  # operations per side per round (fewer for the slow ones)
WARM_UP = 200
PREFIX = "primitive/"


def raw_primitives(name: str) -> dict[str, Any]:
    """The engine's own, by the names greenabc uses."""
    if name == "gevent":
        import gevent
        import gevent.event
        import gevent.local
        import gevent.lock
        import gevent.queue
        import gevent.thread

        hub = gevent.get_hub()
        return {
            "Event": gevent.event.Event,
            "Lock": gevent.thread.LockType,
            "RLock": gevent.lock.RLock,
            "Semaphore": gevent.lock.Semaphore,
            "BoundedSemaphore": gevent.lock.BoundedSemaphore,
            "Condition": threading.Condition,
            "Queue": gevent.queue.Queue,
            "local": gevent.local.local,
            "to_thread": lambda fn: hub.threadpool.apply(fn),
            "spawn": gevent.spawn,
            "join": lambda g: g.join(),
        }
    if name == "eventlet":
        import eventlet
        import eventlet.corolocal
        import eventlet.lock
        import eventlet.queue
        import eventlet.semaphore
        from eventlet import tpool

        return {
            "Event": threading.Event,  # patched: eventlet's green threading
            "Lock": eventlet.lock.Lock,
            "RLock": threading.RLock,
            "Semaphore": eventlet.semaphore.Semaphore,
            "BoundedSemaphore": eventlet.semaphore.BoundedSemaphore,
            "Condition": threading.Condition,
            "Queue": eventlet.queue.Queue,
            "local": eventlet.corolocal.local,
            "to_thread": tpool.execute,
            "spawn": eventlet.spawn,
            "join": lambda g: g.wait(),
        }

    def spawn(fn: Callable[..., object], *args: Any) -> threading.Thread:
        thread = threading.Thread(target=fn, args=args)
        thread.start()
        return thread

    return {
        "Event": threading.Event,
        "Lock": threading.Lock,
        "RLock": threading.RLock,
        "Semaphore": threading.Semaphore,
        "BoundedSemaphore": threading.BoundedSemaphore,
        "Condition": threading.Condition,
        "Queue": queue.Queue,
        "local": threading.local,
        "to_thread": lambda fn: fn(),  # greenabc's threads backend calls in place
        "spawn": spawn,
        "join": lambda t: t.join(),
    }


def event_cycle(p: dict[str, Any], n: int) -> float:
    ev = p["Event"]()
    started = time.perf_counter()
    for _ in range(n):
        ev.set()
        ev.wait()
        ev.clear()
        ev.is_set()
    return time.perf_counter() - started


def event_construct(p: dict[str, Any], n: int) -> float:
    make = p["Event"]
    started = time.perf_counter()
    for _ in range(n):
        make()
    return time.perf_counter() - started


def event_module_level(p: dict[str, Any], n: int) -> float:
    make = p["module Event"]
    started = time.perf_counter()
    for _ in range(n):
        make()
    return time.perf_counter() - started


def lock_cycle(name: str) -> Callable[[dict[str, Any], int], float]:
    def run(p: dict[str, Any], n: int) -> float:
        lock = p[name]() if name.endswith("Lock") else p[name](1)
        started = time.perf_counter()
        for _ in range(n):
            lock.acquire()
            lock.release()
        return time.perf_counter() - started

    return run


def with_lock(p: dict[str, Any], n: int) -> float:
    lock = p["Lock"]()
    started = time.perf_counter()
    for _ in range(n):
        with lock:
            pass
    return time.perf_counter() - started


def condition_notify(p: dict[str, Any], n: int) -> float:
    cond = p["Condition"]()
    started = time.perf_counter()
    for _ in range(n):
        with cond:
            cond.notify()
    return time.perf_counter() - started


def queue_nowait(p: dict[str, Any], n: int) -> float:
    q = p["Queue"](100)
    started = time.perf_counter()
    for i in range(n):
        q.put_nowait(i)
        q.get_nowait()
    return time.perf_counter() - started


def queue_handoff(p: dict[str, Any], n: int) -> float:
    """A producer and a consumer (the engine's own spawn on both sides)
    through a Queue(maxsize=10): blocking puts and gets, switches."""
    q = p["Queue"](10)

    def produce() -> None:
        for i in range(n):
            q.put(i)

    def consume() -> None:
        for _ in range(n):
            q.get()

    started = time.perf_counter()
    a = p["spawn"](produce)
    b = p["spawn"](consume)
    p["join"](a)
    p["join"](b)
    return time.perf_counter() - started


def event_ping_pong(p: dict[str, Any], n: int) -> float:
    """Two green threads (threads) waking each other through two Events."""
    ping, pong = p["Event"](), p["Event"]()

    def other() -> None:
        for _ in range(n):
            ping.wait()
            ping.clear()
            pong.set()

    started = time.perf_counter()
    g = p["spawn"](other)
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    p["join"](g)
    return time.perf_counter() - started


def local_cycle(p: dict[str, Any], n: int) -> float:
    loc = p["local"]()
    started = time.perf_counter()
    for i in range(n):
        loc.x = i
        _ = loc.x
    return time.perf_counter() - started


def to_thread_call(p: dict[str, Any], n: int) -> float:
    run = p["to_thread"]
    started = time.perf_counter()
    for _ in range(n):
        run(noop)
    return time.perf_counter() - started


CASES: list[tuple[str, int, Callable[[dict[str, Any], int], float]]] = [
    ("Event set+wait+clear+is_set", N, event_cycle),
    ("Event() via the backend", N, event_construct),
    ("greenabc.Event() (module level) vs the raw class", N, event_module_level),
    ("Event ping-pong between two green threads", 2_000, event_ping_pong),
    ("Lock acquire+release", N, lock_cycle("Lock")),
    ("with Lock", N, with_lock),
    ("RLock acquire+release", N, lock_cycle("RLock")),
    ("Semaphore acquire+release", N, lock_cycle("Semaphore")),
    ("BoundedSemaphore acquire+release", N, lock_cycle("BoundedSemaphore")),
    ("Condition with+notify (no waiter)", N, condition_notify),
    ("Queue put_nowait+get_nowait", N, queue_nowait),
    ("Queue(10) producer -> consumer hand-off", 5_000, queue_handoff),
    ("local set+get", N, local_cycle),
    ("to_thread(noop)", 500, to_thread_call),
]


def side(case: Callable[[dict[str, Any], int], float], p: dict[str, Any], n: int) -> Side:
    def run() -> Metrics:
        case(p, min(n, WARM_UP))
        return {"ns": case(p, n) / n * 1e9}

    return run


def add(suite: Any) -> None:
    import greenabc

    backend = suite.backend
    raw = raw_primitives(backend.name)
    ours: dict[str, Any] = {
        "Event": backend.Event,
        "module Event": greenabc.Event,
        "Lock": backend.Lock,
        "RLock": backend.RLock,
        "Semaphore": backend.Semaphore,
        "BoundedSemaphore": backend.BoundedSemaphore,
        "Condition": backend.Condition,
        "Queue": backend.Queue,
        "local": backend.local,
        "to_thread": backend.to_thread,
        "spawn": raw["spawn"],
        "join": raw["join"],
    }
    raw["module Event"] = raw["Event"]
    for title, n, case in CASES:
        suite.add(
            PREFIX + re.sub(r"\W+", "_", title.lower()).strip("_"),
            title,
            "greenabc",
            {"greenabc": side(case, ours, n), "raw": side(case, raw, n)},
            unit="ns",
            ratio_metrics=("ns",),
            label=title,
        )
