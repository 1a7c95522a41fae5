"""Timer semantics every backend must have."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenabc

from ._helpers import wait_until


def test_call_after_fires_once_after_the_delay(timer: greenabc.Timer) -> None:
    fired: list[float] = []
    started = time.monotonic()
    entry = timer.call_after(0.05, lambda: fired.append(time.monotonic()))
    assert entry in timer.queue
    assert wait_until(lambda: bool(fired))
    time.sleep(0.05)
    assert len(fired) == 1
    assert fired[0] - started >= 0.049
    assert entry not in timer.queue


def test_call_after_passes_arguments(timer: greenabc.Timer) -> None:
    got: list[tuple[int, str]] = []
    timer.call_after(0, lambda a, b: got.append((a, b)), 1, "x")
    assert wait_until(lambda: got == [(1, "x")])


def test_call_at_takes_a_monotonic_time(timer: greenabc.Timer) -> None:
    fired: list[float] = []
    when = time.monotonic() + 0.05
    entry = timer.call_at(when, lambda: fired.append(time.monotonic()))
    assert entry.deadline == pytest.approx(when, abs=0.01)
    assert wait_until(lambda: bool(fired))
    assert fired[0] >= when - 0.001


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    delays=st.lists(st.integers(0, 40), min_size=1, max_size=15),
    cancel=st.lists(st.booleans(), min_size=15, max_size=15),
)
def test_timers_fire_in_deadline_order_and_cancelled_never_fire(
    greenabc_backend: greenabc.Backend, delays: list[int], cancel: list[bool]
) -> None:
    timer = greenabc_backend.create_timer()
    fired: list[int] = []
    entries = [timer.call_after(ms / 1000, fired.append, i) for i, ms in enumerate(delays)]
    cancelled = set()
    for i, entry in enumerate(entries):
        if cancel[i]:
            entry.cancel()
            cancelled.add(i)
    expected = [i for i in range(len(delays)) if i not in cancelled]
    assert wait_until(lambda: len(fired) >= len(expected))
    time.sleep(0.01)
    timer.stop()
    assert sorted(fired) == expected
    deadlines = [entries[i].deadline for i in fired]
    assert deadlines == sorted(deadlines)


def test_repeating_entry_fires_until_cancelled(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    entry = timer.call_repeatedly(0.02, fired.append, 1)
    assert wait_until(lambda: len(fired) >= 3)
    entry.cancel()
    assert entry.cancelled
    count = len(fired)
    time.sleep(0.1)
    assert len(fired) == count
    assert entry not in timer.queue


def test_timer_cancel_stops_a_repeating_entry(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    entry = timer.call_repeatedly(0.02, fired.append, 1)
    assert wait_until(lambda: len(fired) >= 2)
    timer.cancel(entry)
    count = len(fired)
    time.sleep(0.1)
    assert len(fired) == count


def test_repeating_entry_cancelled_from_its_own_callback(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    box: list[Any] = []

    def once() -> None:
        fired.append(1)
        box[0].cancel()

    box.append(timer.call_repeatedly(0.01, once))
    time.sleep(0.1)
    assert fired == [1]


def test_exception_in_a_callback_is_logged_and_the_timer_goes_on(
    timer: greenabc.Timer, caplog: pytest.LogCaptureFixture
) -> None:
    fired: list[int] = []

    def bad() -> None:
        raise RuntimeError("timer callback failed")

    with caplog.at_level(logging.ERROR, logger="greenabc"):
        timer.call_after(0, bad)
        repeating = timer.call_repeatedly(0.01, bad)
        timer.call_after(0.03, fired.append, 1)
        assert wait_until(lambda: fired == [1])
        repeating.cancel()
    assert (
        sum(1 for r in caplog.records if r.exc_text and "timer callback failed" in r.exc_text) >= 2
    )


def test_queue_clear_and_stop(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    late = timer.call_after(10, fired.append, 2)
    soon = timer.call_after(5, fired.append, 1)
    assert timer.queue == [soon, late]
    timer.clear()
    assert timer.queue == []
    assert late.cancelled and soon.cancelled
    timer.stop()
    with pytest.raises(greenabc.GreenabcError, match="stopped"):
        timer.call_after(0, fired.append, 3)
    time.sleep(0.02)
    assert fired == []


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf, "1"])
def test_bad_delays_are_refused(timer: greenabc.Timer, seconds: Any) -> None:
    error = TypeError if isinstance(seconds, str) else ValueError
    with pytest.raises(error):
        timer.call_after(seconds, print)
    with pytest.raises(error):
        timer.call_repeatedly(seconds, print)
    with pytest.raises(ValueError, match="interval"):
        timer.call_repeatedly(0, print)
    assert timer.queue == []


def test_clear_from_a_callback_cancels_the_rest_of_its_batch(timer: greenabc.Timer) -> None:
    fired: list[str] = []
    when = time.monotonic() + 0.05

    def clearer() -> None:
        fired.append("clearer")
        timer.clear()

    timer.call_at(when, clearer)
    timer.call_at(when, fired.append, "victim")  # due at the same moment: same batch
    time.sleep(0.3)
    assert fired == ["clearer"]
    assert timer.queue == []


def test_stop_from_a_callback_stops_a_repeating_entry_of_its_batch(
    timer: greenabc.Timer,
) -> None:
    fired: list[str] = []
    first = time.monotonic() + 0.05

    def stopper() -> None:
        fired.append("stopper")
        timer.stop()

    timer.call_at(first, stopper)
    repeating = timer.call_repeatedly(0.05, fired.append, "tick")
    # Due at the stopper's moment, or just after: either way stop() must end it.
    time.sleep(0.4)
    assert fired.count("stopper") == 1
    assert fired.count("tick") <= 1, fired
    assert repeating.cancelled
    count = len(fired)
    time.sleep(0.2)
    assert len(fired) == count


def test_timer_entry_cancelled_by_an_earlier_entry_of_its_batch(timer: greenabc.Timer) -> None:
    fired: list[str] = []
    when = time.monotonic() + 0.05
    victim = None

    def canceller() -> None:
        fired.append("canceller")
        assert victim is not None
        victim.cancel()

    timer.call_at(when, canceller)
    victim = timer.call_at(when, fired.append, "victim")
    time.sleep(0.3)
    assert fired == ["canceller"]


@pytest.mark.parametrize("fn", ["not callable", None, 3])
def test_scheduling_something_not_callable_is_refused(timer: greenabc.Timer, fn: Any) -> None:
    for schedule in (timer.call_after, timer.call_at, timer.call_repeatedly):
        with pytest.raises(TypeError, match="callable"):
            schedule(1.0, fn)
    assert timer.queue == []
