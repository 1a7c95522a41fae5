"""Timer semantics every backend must have."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenabc

from ._helpers import PROMPT, wait_until

#: How far ahead entries that are cancelled at once are scheduled: time for
#: this thread to reach cancel() before they are due, even when preempted.
AHEAD = 0.25
#: "Never far behind", with room for a loaded 2-core machine.
FAR_BEHIND = 0.5


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


class Schedule:
    """Entries at given delays after a start ``AHEAD`` from now, each noting
    its index and the time it fired, some cancelled at once."""

    def __init__(
        self, timer: greenabc.Timer, delays: list[float], cancel: Callable[[int], bool]
    ) -> None:
        self.fired: list[tuple[int, float]] = []
        start = time.monotonic() + AHEAD
        self.entries = [timer.call_at(start + d, self.note, i) for i, d in enumerate(delays)]
        self.cancelled = {i for i in range(len(self.entries)) if cancel(i)}
        for i in self.cancelled:
            self.entries[i].cancel()
        # On a preemptive engine a loaded machine can stall this thread past
        # the first deadline; then a cancelled entry may rightly have fired.
        self.in_time = time.monotonic() < start

    def note(self, index: int) -> None:
        self.fired.append((index, time.monotonic()))

    def check(self) -> None:
        """Every entry not cancelled fires once, never early, in deadline
        order; a cancelled one never (if cancelled before it was due)."""
        expected = [i for i in range(len(self.entries)) if i not in self.cancelled]
        assert wait_until(lambda: set(expected) <= {i for i, _ in self.fired}, PROMPT + AHEAD)
        last = max((entry.deadline for entry in self.entries), default=0.0)
        time.sleep(max(0.0, last - time.monotonic()) + 0.02)  # every deadline has passed
        fired = [i for i, _ in self.fired]
        assert len(fired) == len(set(fired)), "an entry fired twice"
        if self.in_time:
            assert sorted(fired) == expected
        else:
            assert sorted(i for i in fired if i not in self.cancelled) == expected
        assert all(at >= self.entries[i].deadline for i, at in self.fired), "fired early"
        deadlines = [self.entries[i].deadline for i in fired]
        assert deadlines == sorted(deadlines)


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
    try:
        Schedule(timer, [ms / 1000 for ms in delays], cancel.__getitem__).check()
    finally:
        timer.stop()


def test_many_entries_fire_in_order_never_early_and_cancelled_never(timer: greenabc.Timer) -> None:
    rng = random.Random(3)
    Schedule(timer, [rng.uniform(0, 0.3) for _ in range(2000)], lambda i: i % 7 == 0).check()
    assert timer.queue == []


def test_ten_thousand_spread_entries_are_never_far_behind(timer: greenabc.Timer) -> None:
    # The cost of firing one entry must not grow with the others queued: a
    # timer that falls behind falls seconds behind here.
    count = 10_000
    late: list[float] = []
    for n in range(count):
        deadline = time.monotonic() + 0.1 + 0.4 * n / count
        timer.call_at(deadline, lambda d=deadline: late.append(time.monotonic() - d))
    assert wait_until(lambda: len(late) == count, 0.5 + PROMPT)
    assert 0 <= max(late) < FAR_BEHIND


def assert_no_more_calls(fired: list[int], interval: float) -> None:
    """After cancel() returned: a call already under way may still land (on a
    preemptive engine callbacks run in another thread, however late), no
    other, over ten intervals."""
    count = len(fired)
    time.sleep(10 * interval)
    assert len(fired) <= count + 1, f"{len(fired) - count} calls after cancel()"


def test_repeating_entry_fires_until_cancelled(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    entry = timer.call_repeatedly(0.02, fired.append, 1)
    assert wait_until(lambda: len(fired) >= 3)
    entry.cancel()
    assert entry.cancelled
    assert_no_more_calls(fired, 0.02)
    assert entry not in timer.queue


def test_timer_cancel_stops_a_repeating_entry(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    entry = timer.call_repeatedly(0.02, fired.append, 1)
    assert wait_until(lambda: len(fired) >= 2)
    timer.cancel(entry)
    assert_no_more_calls(fired, 0.02)


def test_repeating_entry_cancelled_from_its_own_callback(timer: greenabc.Timer) -> None:
    fired: list[int] = []
    box: list[Any] = []

    def once() -> None:
        fired.append(1)
        box[0].cancel()

    box.append(timer.call_repeatedly(AHEAD, once))  # in the box before it is due
    assert wait_until(lambda: bool(fired), AHEAD + PROMPT)
    time.sleep(3 * AHEAD)
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
    when = time.monotonic() + AHEAD  # all scheduled before any is due

    def clearer() -> None:
        fired.append("clearer")
        timer.clear()

    timer.call_at(when, clearer)
    timer.call_at(when, fired.append, "victim")  # due at the same moment: same batch
    assert wait_until(lambda: bool(fired), AHEAD + PROMPT)
    time.sleep(0.05)
    assert fired == ["clearer"]
    assert timer.queue == []


def test_stop_from_a_callback_stops_a_repeating_entry_of_its_batch(
    timer: greenabc.Timer,
) -> None:
    fired: list[str] = []
    first = time.monotonic() + AHEAD  # all scheduled before any is due

    def stopper() -> None:
        fired.append("stopper")
        timer.stop()

    timer.call_at(first, stopper)
    repeating = timer.call_repeatedly(AHEAD, fired.append, "tick")
    # Due at the stopper's moment, or just after: either way stop() must end it.
    assert wait_until(lambda: "stopper" in fired, AHEAD + PROMPT)
    time.sleep(0.1)
    assert fired.count("stopper") == 1
    assert fired.count("tick") <= 1, fired
    assert repeating.cancelled
    count = len(fired)
    time.sleep(0.2)
    assert len(fired) == count


def test_timer_entry_cancelled_by_an_earlier_entry_of_its_batch(timer: greenabc.Timer) -> None:
    fired: list[str] = []
    when = time.monotonic() + AHEAD  # all scheduled before any is due
    victim = None

    def canceller() -> None:
        fired.append("canceller")
        assert victim is not None
        victim.cancel()

    timer.call_at(when, canceller)
    victim = timer.call_at(when, fired.append, "victim")
    assert wait_until(lambda: bool(fired), AHEAD + PROMPT)
    time.sleep(0.05)
    assert fired == ["canceller"]


@pytest.mark.parametrize("fn", ["not callable", None, 3])
def test_scheduling_something_not_callable_is_refused(timer: greenabc.Timer, fn: Any) -> None:
    for schedule in (timer.call_after, timer.call_at, timer.call_repeatedly):
        with pytest.raises(TypeError, match="callable"):
            schedule(1.0, fn)
    assert timer.queue == []
