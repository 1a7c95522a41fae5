"""greenabc's primitives against the raw engine's own, as ratios measured in
the same run and round. One backend per process, patched first:

    python benchmarks/bench_primitives.py --backend gevent [--rounds 7] [--json]

For each primitive, each round times greenabc's object (made by the
backend, as ``greenabc.Event()`` makes it) and the engine's own doing the same
operations, the two sides alternating which goes first, with the garbage
collector run before each; the per-round ratio is greenabc / raw. Reported:
the median and the min-max of those ratios, and the median cost of each side.

The raw engine's own: gevent's ``gevent.event.Event``, ``gevent.lock.*``,
``gevent.queue.Queue``, ``gevent.local.local``, the hub's threadpool;
eventlet's ``eventlet.queue.Queue``, ``eventlet.lock.Lock``,
``eventlet.semaphore.Semaphore``, ``tpool.execute`` and, where eventlet has no
class of its own with the stdlib's API (Event, RLock, Condition), the patched
``threading`` one; on threads, ``threading`` and ``queue``.
"""

from __future__ import annotations

import sys


def _backend_name(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
    return "threads"


import greenabc  # noqa: E402

NAME = _backend_name(sys.argv[1:])
greenabc.patch(NAME)  # first, as an application would

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import queue  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

backend = greenabc.get_backend(NAME)
N = 20_000  # operations per side per round (fewer for the slow ones)


def raw_primitives() -> dict[str, Any]:
    """The engine's own, by the names greenabc uses."""
    if NAME == "gevent":
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
    if NAME == "eventlet":
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


RAW = raw_primitives()
OURS: dict[str, Any] = {
    "Event": backend.Event,
    "Lock": backend.Lock,
    "RLock": backend.RLock,
    "Semaphore": backend.Semaphore,
    "BoundedSemaphore": backend.BoundedSemaphore,
    "Condition": backend.Condition,
    "Queue": backend.Queue,
    "local": backend.local,
    "to_thread": backend.to_thread,
}


def noop() -> None:
    return None


# Each case: (description, ops per side, function(primitives, n) -> seconds).


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
    make = greenabc.Event if p is OURS else p["Event"]
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
    a = RAW["spawn"](produce)
    b = RAW["spawn"](consume)
    RAW["join"](a)
    RAW["join"](b)
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
    g = RAW["spawn"](other)
    for _ in range(n):
        ping.set()
        pong.wait()
        pong.clear()
    RAW["join"](g)
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


def measure(rounds: int) -> list[dict[str, Any]]:
    results = []
    for title, n, case in CASES:
        ours, raw, ratios = [], [], []
        case(OURS, min(n, 200))  # warm up both
        case(RAW, min(n, 200))
        for r in range(rounds):
            sides = [(OURS, ours), (RAW, raw)]
            if r % 2:
                sides.reverse()
            for prims, into in sides:
                gc.collect()
                into.append(case(prims, n) / n)
            ratios.append(ours[-1] / raw[-1])
        results.append(
            {
                "case": title,
                "ours_ns": statistics.median(ours) * 1e9,
                "raw_ns": statistics.median(raw) * 1e9,
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
            }
        )
    return results


def kind(name: str) -> str:
    """Native (the engine's own class) or derived by the core."""
    made = OURS[name]() if name in ("Event", "Lock", "RLock", "Queue", "local") else None
    if name in ("Semaphore", "BoundedSemaphore"):
        made = OURS[name](1)
    if name == "Condition":
        made = OURS[name]()
    module = type(made).__module__
    return "derived" if module.startswith("greenabc._core") else f"native ({module})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="threads")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = measure(args.rounds)
    names = ("Event", "Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition", "Queue")
    kinds = {name: kind(name) for name in (*names, "local")}
    if args.json:
        print(json.dumps({"backend": NAME, "kinds": kinds, "results": results}, indent=2))
        return
    print(
        f"backend {NAME}, Python {platform.python_version()}, {args.rounds} rounds,"
        " ratio = greenabc / raw (median, min-max)"
    )
    print("| case | raw | greenabc | ratio (median) | min-max |")
    print("|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['case']} | {row['raw_ns']:.0f} ns | {row['ours_ns']:.0f} ns"
            f" | {row['ratio_median']:.2f}x | {row['ratio_min']:.2f}-{row['ratio_max']:.2f}x |"
        )
    print()
    for name, how in kinds.items():
        print(f"{name}: {how}")


if __name__ == "__main__":
    main()
