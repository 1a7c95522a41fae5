"""The core's Timer on the hub's loop timers."""

from __future__ import annotations

import random
import time

import gevent
import greenlet

from greenabc.adapter import EngineBackend


def test_many_entries_fire_in_deadline_order_never_early_and_cancelled_never(
    backend: EngineBackend,
) -> None:
    timer = backend.create_timer()
    rng = random.Random(3)
    fired: list[tuple[float, int]] = []
    entries = []
    for n in range(2000):
        entry = timer.call_after(
            rng.uniform(0, 0.3), lambda n=n: fired.append((time.monotonic(), n))
        )
        entries.append(entry)
    cancelled = {n for n in range(0, 2000, 7)}
    for n in cancelled:
        entries[n].cancel()
    gevent.sleep(0.5)
    assert sorted(n for _, n in fired) == sorted(set(range(2000)) - cancelled)
    assert all(at >= entries[n].deadline for at, n in fired)
    deadlines = [entries[n].deadline for _, n in fired]
    assert deadlines == sorted(deadlines)  # exactly: the core orders its own heap
    assert timer.queue == []


def test_callbacks_run_in_the_hub_with_no_greenlet_per_entry(backend: EngineBackend) -> None:
    timer = backend.create_timer()
    ran_in: list[object] = []
    before = _greenlets()
    for _ in range(100):
        timer.call_after(0.01, lambda: ran_in.append(greenlet.getcurrent()))
    assert _greenlets() == before  # a spawn_later per entry would show here
    gevent.sleep(0.05)
    assert ran_in == [gevent.get_hub()] * 100


def _greenlets() -> int:
    import gc

    return sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet.greenlet))


def test_repeating_entries_stop_when_cancelled_either_way(backend: EngineBackend) -> None:
    timer = backend.create_timer()
    counts = {"a": 0, "b": 0, "c": 0}

    def tick(name: str) -> None:
        counts[name] += 1

    a = timer.call_repeatedly(0.01, tick, "a")
    b = timer.call_repeatedly(0.013, tick, "b")
    timer.call_repeatedly(0.017, tick, "c")
    gevent.sleep(0.1)
    a.cancel()
    timer.cancel(b)
    gevent.sleep(0)
    frozen = dict(counts)
    gevent.sleep(0.1)
    assert counts["a"] == frozen["a"] > 3
    assert counts["b"] == frozen["b"] > 3
    assert counts["c"] > frozen["c"]  # the one left alone goes on
    timer.stop()
    frozen = dict(counts)
    gevent.sleep(0.05)
    assert counts == frozen


def test_ten_thousand_spread_timers_are_never_far_behind(backend: EngineBackend) -> None:
    timer = backend.create_timer()
    latest = [0.0]
    done = gevent.event.Event()
    count = 10_000
    left = [count]

    def fire(deadline: float) -> None:
        latest[0] = max(latest[0], time.monotonic() - deadline)
        left[0] -= 1
        if not left[0]:
            done.set()

    for n in range(count):
        delay = 0.1 + 0.4 * n / count
        timer.call_after(delay, fire, time.monotonic() + delay)
    assert done.wait(5)
    assert 0 <= latest[0] < 0.1
