"""Timers on the hub's schedule_call_global; the scope starts on enter."""

from __future__ import annotations

import random
import time

import eventlet
import pytest
from eventlet.hubs import get_hub
from greenlet import getcurrent

import greenabc
from greenabc_eventlet._backend import EventletBackend


def test_timers_are_hub_timers_and_fire_in_deadline_order(backend: EventletBackend) -> None:
    timer = backend.create_timer()
    hub = get_hub()
    fired: list[int] = []
    ran_in: set[object] = set()
    order = random.sample(range(300), 300)  # deadlines 0.5 ms apart, shuffled
    base = time.monotonic() + 0.1  # none is past before all are scheduled

    def fire(n: int) -> None:
        fired.append(n)
        ran_in.add(getcurrent())

    before = hub.get_timers_count()
    for n in order:
        timer.call_at(base + n * 0.0005, fire, n)
    # The backend keeps one deadline structure: at most one hub timer for its
    # earliest entry (plus the few replaced when an earlier one came), not
    # one per entry.
    assert hub.get_timers_count() - before < len(order) // 10
    eventlet.sleep(0.4)
    assert fired == sorted(order)
    assert ran_in == {hub.greenlet}  # in the hub, not a green thread each
    timer.stop()


def test_a_cancelled_repeating_entry_stops(backend: EventletBackend) -> None:
    timer = backend.create_timer()
    beats: list[float] = []
    entry = timer.call_repeatedly(0.01, lambda: beats.append(time.monotonic()))
    eventlet.sleep(0.1)
    entry.cancel()
    count = len(beats)
    eventlet.sleep(0.1)
    assert count >= 3
    assert len(beats) == count
    assert entry not in timer.queue
    timer.stop()


def test_timeout_starts_on_enter_not_on_construction(backend: EventletBackend) -> None:
    scope = backend.timeout(0.1)
    eventlet.sleep(0.15)  # eventlet.Timeout(0.1) made here would already have fired
    with scope:
        eventlet.sleep(0.05)
    assert not scope.expired
    raw = eventlet.Timeout(0.1)
    with pytest.raises(eventlet.Timeout):
        eventlet.sleep(0.15)  # eventlet's starts in its constructor
    raw.cancel()


def test_timeout_raises_timeout_expired_to_the_caller(backend: EventletBackend) -> None:
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired), backend.timeout(0.05):
        eventlet.sleep(5)
    assert time.monotonic() - started < 1.0
    with pytest.raises(TimeoutError), greenabc.timeout(0.01, backend="eventlet"):
        eventlet.sleep(5)


def test_nested_scopes_each_catch_their_own(backend: EventletBackend) -> None:
    with backend.timeout(5), pytest.raises(greenabc.TimeoutExpired), backend.timeout(0.02):
        eventlet.sleep(5)
    outer, inner = backend.timeout(0.02), backend.timeout(5)
    with pytest.raises(greenabc.TimeoutExpired), outer, inner:
        eventlet.sleep(5)
    assert outer.expired
    assert not inner.expired


def test_none_is_no_limit_and_an_exited_scope_never_fires(backend: EventletBackend) -> None:
    with backend.timeout(None) as unlimited:
        eventlet.sleep(0.01)
    assert not unlimited.expired
    with backend.timeout(0.02) as done:
        pass
    eventlet.sleep(0.05)  # its timer was cancelled at exit: nothing is thrown here
    assert not done.expired
