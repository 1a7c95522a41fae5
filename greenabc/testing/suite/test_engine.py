"""The Engine primitives under a backend built with
``greenabc.adapter.EngineBackend``: the rules of docs/adapters.md that hold on
every engine (an engine's own, such as "never switches under the core's
lock", are its adapter's tests). Skipped for a Backend written another way."""

from __future__ import annotations

import time
from typing import Any

import pytest

import greenabc

from ._helpers import PROMPT, spin, wait_until

#: Room for this thread to reach cancel() before a call is due, even when a
#: loaded machine preempts it.
AHEAD = 0.25


@pytest.fixture
def engine(greenabc_backend: greenabc.Backend) -> Any:
    found = getattr(greenabc_backend, "engine", None)
    if found is None:
        pytest.skip(f"{greenabc_backend.name} is not built on greenabc.adapter.EngineBackend")
    return found


def test_spawn_runs_fn_and_current_is_its_handle(engine: Any) -> None:
    seen: list[object] = []
    done = engine.core_event()

    def body() -> None:
        seen.append(engine.current())
        done.set()

    handle = engine.spawn(body)
    assert done.wait(PROMPT)
    assert seen == [handle]
    assert handle != engine.current()


def test_sleep_and_monotonic(engine: Any) -> None:
    started = engine.monotonic()
    engine.sleep(0.05)
    assert engine.monotonic() - started >= 0.049


def test_event_waits_times_out_and_wakes_a_waiter(engine: Any) -> None:
    event = engine.core_event()
    assert not event.is_set()
    started = time.monotonic()
    assert event.wait(0.05) is False
    assert time.monotonic() - started >= 0.049
    woken: list[bool] = []
    engine.spawn(lambda: woken.append(event.wait(PROMPT)))
    event.set()
    assert event.is_set()
    assert event.wait(0) is True
    assert wait_until(lambda: woken == [True])


def test_semaphore_acquire_times_out_and_leaves_no_trace(engine: Any) -> None:
    semaphore = engine.core_semaphore(1)
    assert semaphore.acquire(blocking=False) is True
    assert semaphore.acquire(blocking=False) is False
    started = time.monotonic()
    assert semaphore.acquire(timeout=0.05) is False
    assert time.monotonic() - started >= 0.049
    semaphore.release()  # to this caller, not to the waiter that timed out
    assert semaphore.acquire(blocking=False) is True
    got: list[bool] = []
    engine.spawn(lambda: got.append(semaphore.acquire(timeout=PROMPT)))
    semaphore.release()
    assert wait_until(lambda: got == [True])


def test_queue_is_fifo_and_get_waits_for_a_put(engine: Any) -> None:
    queue = engine.core_queue()
    for item in range(3):
        queue.put(item)
    assert [queue.get() for _ in range(3)] == [0, 1, 2]
    got: list[object] = []
    engine.spawn(lambda: got.append(queue.get()))
    time.sleep(0.05)
    assert got == []
    queue.put("item")
    assert wait_until(lambda: got == ["item"])


def test_call_later_calls_once_after_its_delay_and_a_cancelled_call_never(engine: Any) -> None:
    fired: list[tuple[str, float]] = []
    started = time.monotonic()
    cancelled = engine.call_later(AHEAD, lambda: fired.append(("cancelled", time.monotonic())))
    cancelled.cancel()
    in_time = time.monotonic() - started < AHEAD
    engine.call_later(AHEAD + 0.05, lambda: fired.append(("due", time.monotonic())))
    assert wait_until(lambda: any(what == "due" for what, _ in fired), AHEAD + PROMPT)
    time.sleep(0.05)
    assert [what for what, _ in fired if what == "due"] == ["due"]
    if in_time:
        assert [what for what, _ in fired] == ["due"]
    assert all(at - started >= AHEAD for _, at in fired)


class Stop(BaseException):
    pass


def test_interrupt_reaches_a_sleeping_target_unless_its_guard_is_false(engine: Any) -> None:
    caught: list[type[BaseException]] = []
    started = engine.core_event()

    def target() -> None:
        started.set()
        try:
            spin(PROMPT * 2)
        except BaseException as exc:
            caught.append(type(exc))

    handle = engine.spawn(target)
    assert started.wait(PROMPT)
    engine.interrupt(handle, Stop, lambda: False)
    time.sleep(0.1)
    assert caught == []
    engine.interrupt(handle, Stop, lambda: True)
    assert wait_until(lambda: caught == [Stop])
