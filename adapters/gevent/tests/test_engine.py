"""The primitives, and the rules the core relies on: what it calls under its
OS lock never switches, interrupts are deferred and guarded, timers are hub
loop timers on an up-to-date clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gevent
import greenlet
import pytest
from gevent import monkey

from greenabc.adapter import EngineBackend
from greenabc_gevent import GeventEngine


@pytest.fixture
def engine(backend: EngineBackend) -> GeventEngine:
    assert isinstance(backend.engine, GeventEngine)
    return backend.engine


@contextmanager
def no_switch() -> Iterator[None]:
    """Fail if any greenlet switch happens inside the block."""
    switches: list[tuple[str, Any]] = []

    def trace(event: str, args: Any) -> None:
        switches.append((event, args))
        if previous is not None:
            previous(event, args)

    previous = greenlet.settrace(trace)
    try:
        yield
    finally:
        greenlet.settrace(previous)
    assert switches == [], f"switched inside a no-switch block: {switches}"


class Catcher:
    """A greenlet that sleeps until something is thrown into it."""

    def __init__(self) -> None:
        self.caught: list[type[BaseException]] = []
        self.greenlet = gevent.spawn(self._run)
        gevent.sleep(0)  # let it start sleeping

    def _run(self) -> None:
        try:
            gevent.sleep(30)
        except BaseException as exc:
            self.caught.append(type(exc))


class Boom(BaseException):
    pass


def test_what_the_core_calls_under_its_lock_never_switches(engine: GeventEngine) -> None:
    event, semaphore, queue = engine.core_event(), engine.core_semaphore(0), engine.core_queue()
    woken: list[object] = []
    waiters = [
        gevent.spawn(lambda: woken.append(event.wait(5))),
        gevent.spawn(lambda: woken.append(semaphore.acquire(timeout=5))),
        gevent.spawn(lambda: woken.append(queue.get())),
    ]
    target = Catcher()
    gevent.sleep(0)  # every waiter is now blocked
    fired: list[str] = []
    lock = engine.core_lock()
    with lock, no_switch():
        event.set()
        semaphore.release()
        queue.put("item")
        engine.call_later(0, fired.append, "timer")
        engine.call_later(0, fired.append, "cancelled").cancel()
        engine.interrupt(target.greenlet, Boom, lambda: True)
        assert woken == []
        assert target.caught == []
        assert fired == []
    gevent.joinall(waiters, timeout=2)
    target.greenlet.join(timeout=2)
    assert sorted(map(str, woken)) == ["True", "True", "item"]
    assert target.caught == [Boom]
    gevent.sleep(0.01)
    assert fired == ["timer"]


def test_an_interrupt_is_delivered_only_if_its_guard_still_holds(engine: GeventEngine) -> None:
    still_running = True
    target = Catcher()
    engine.interrupt(target.greenlet, Boom, lambda: still_running)
    still_running = False  # e.g. the task finished before the hub ran
    gevent.sleep(0.01)
    assert target.caught == []
    assert not target.greenlet.dead
    engine.interrupt(target.greenlet, Boom, lambda: True)
    target.greenlet.join(timeout=2)
    assert target.caught == [Boom]
    engine.interrupt(target.greenlet, Boom, lambda: True)  # dead by now: dropped
    gevent.sleep(0.01)
    assert target.caught == [Boom]


def test_the_state_lock_is_a_real_os_lock(engine: GeventEngine) -> None:
    original = monkey.get_original("_thread", "allocate_lock")
    assert type(engine.core_lock()) is type(original())
    assert type(engine.core_lock()) is not type(threading.Lock())  # patched: gevent's


def test_call_later_is_a_hub_loop_timer_run_in_the_hub(engine: GeventEngine) -> None:
    hub = gevent.get_hub()
    ran_in: list[object] = []
    handle = engine.call_later(0, lambda: ran_in.append(greenlet.getcurrent()))
    assert isinstance(handle, type(hub.loop.timer(0)))
    gevent.sleep(0.01)
    assert ran_in == [hub]


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_timer_started_late_in_a_loop_iteration_is_not_early(engine: GeventEngine) -> None:
    gevent.sleep(0)  # a fresh loop iteration: the loop's cached clock is now
    _busy(0.1)  # ...and 100 ms stale, unless call_later updates it
    started = time.monotonic()
    fired: list[float] = []
    engine.call_later(0.05, lambda: fired.append(time.monotonic()))
    gevent.sleep(0.2)
    assert len(fired) == 1
    assert fired[0] - started >= 0.05
