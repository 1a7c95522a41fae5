"""The primitives: what the core may call under its lock never switches."""

from __future__ import annotations

import eventlet
import pytest
from eventlet import patcher
from eventlet.hubs import get_hub
from greenlet import getcurrent

from greenabc_eventlet._backend import EventletBackend
from greenabc_eventlet._engine import EventletEngine


@pytest.fixture
def engine(backend: EventletBackend) -> EventletEngine:
    assert isinstance(backend.engine, EventletEngine)
    return backend.engine


def test_lock_is_a_real_os_lock(engine: EventletEngine) -> None:
    lock = engine.core_lock()
    assert type(lock) is patcher.original("_thread").LockType
    assert lock.acquire(False)
    assert not lock.acquire(False)
    lock.release()


def test_event_set_wakes_waiters_only_once_the_setter_yields(engine: EventletEngine) -> None:
    event = engine.core_event()
    woken: list[bool] = []
    eventlet.spawn_n(lambda: woken.append(event.wait(5)))
    eventlet.sleep(0)  # the waiter parks
    event.set()
    assert woken == []  # set() did not switch
    eventlet.sleep(0.01)
    assert woken == [True]
    assert event.is_set()
    assert event.wait(0)


def test_semaphore_release_hands_off_fifo_without_switching(engine: EventletEngine) -> None:
    sem = engine.core_semaphore(0)
    order: list[int] = []

    def waiter(n: int) -> None:
        assert sem.acquire()
        order.append(n)

    for n in range(3):
        eventlet.spawn_n(waiter, n)
    eventlet.sleep(0)
    for _ in range(3):
        sem.release()
    assert order == []  # release() did not switch
    assert not sem.acquire(False)  # no barging past the waiters
    eventlet.sleep(0.01)
    assert order == [0, 1, 2]


def test_queue_put_never_switches_and_get_is_fifo(engine: EventletEngine) -> None:
    queue = engine.core_queue()
    got: list[object] = []
    eventlet.spawn_n(lambda: got.extend([queue.get(), queue.get()]))
    eventlet.sleep(0)
    queue.put("a")
    queue.put("b")
    assert got == []
    eventlet.sleep(0.01)
    assert got == ["a", "b"]


def test_an_interrupted_getter_loses_no_item(engine: EventletEngine) -> None:
    queue = engine.core_queue()
    first = eventlet.spawn(queue.get)
    eventlet.sleep(0)
    first.kill()  # interrupted while parked in get()
    second = eventlet.spawn(queue.get)
    eventlet.sleep(0)
    queue.put("item")
    assert second.wait() == "item"


def test_interrupt_is_deferred_and_guarded_at_delivery(engine: EventletEngine) -> None:
    caught: list[BaseException] = []

    def target() -> None:
        try:
            eventlet.sleep(5)
        except KeyboardInterrupt as exc:
            caught.append(exc)

    worker = eventlet.spawn(target)
    eventlet.sleep(0)
    allowed = [True]
    engine.interrupt(worker, KeyboardInterrupt, lambda: allowed[0])
    assert caught == []  # interrupt() did not switch
    allowed[0] = False  # the guard is read when the hub delivers
    eventlet.sleep(0.01)
    assert caught == []
    engine.interrupt(worker, KeyboardInterrupt, lambda: True)
    eventlet.sleep(0.01)
    assert len(caught) == 1
    worker.wait()


def test_call_later_is_a_hub_timer_that_cancels(engine: EventletEngine) -> None:
    hub = get_hub()
    ran_in: list[object] = []
    before = hub.get_timers_count()
    engine.call_later(0.01, lambda: ran_in.append(getcurrent()))
    cancelled = engine.call_later(0.01, ran_in.append, "cancelled")
    assert hub.get_timers_count() == before + 2  # no green thread per call
    cancelled.cancel()
    eventlet.sleep(0.05)
    assert ran_in == [hub.greenlet]


def test_spawn_does_not_switch_into_the_new_green_thread(engine: EventletEngine) -> None:
    seen: list[object] = []
    handle = engine.spawn(lambda: seen.append(engine.current()))
    assert seen == []
    eventlet.sleep(0)
    assert seen == [handle]
