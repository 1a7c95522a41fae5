"""The one deadline structure (``greenabc.adapter.DeadlineHeap``), driven by hand."""

from __future__ import annotations

import logging
import random
import threading

import pytest

from greenabc._core._deadlines import STALE_SLACK, TICKS
from greenabc.adapter import DeadlineHeap


class ManualHeap(DeadlineHeap):
    """Driven by the test: records when it was asked to wake."""

    __slots__ = ("arms",)

    def __init__(self) -> None:
        super().__init__(threading.Lock(), lambda: 0.0)
        self.arms: list[float] = []

    def _arm(self, when: float) -> None:
        self.arms.append(when)


def test_entries_run_soonest_first_and_never_early() -> None:
    heap = ManualHeap()
    ran: list[float] = []
    whens = [random.uniform(0, 100) for _ in range(500)]
    for when in whens:
        heap.push(when, ran.append, (when,))
    heap.run_due(50.0)
    assert ran == sorted(w for w in whens if w <= 50.0)
    next_due = min(w for w in whens if w > 50.0)
    assert next_due <= heap.arms[-1] <= next_due + 0.001  # its 1 ms bucket, never early
    heap.run_due(100.0)
    assert ran == sorted(whens)
    assert len(heap) == 0


def test_only_an_earlier_bucket_rearms_the_driver() -> None:
    heap = ManualHeap()
    heap.push(10.0, print)
    heap.push(20.0, print)  # later: the driver's wake-up stands
    heap.push(5.0, print)
    heap.push(5.0002, print)  # the same 1 ms bucket
    assert heap.arms == [10.0, 5.0]


def test_a_cancelled_entry_never_runs_and_holds_nothing() -> None:
    heap = ManualHeap()
    ran: list[int] = []
    payload = [1]
    entry = heap.push(1.0, ran.append, (payload,))
    assert heap.cancel(entry)
    assert not heap.cancel(entry)  # once
    assert entry[2:] == [None]  # the payload is free at once
    heap.run_due(2.0)
    assert ran == []


def test_stale_entries_are_bounded_by_live_ones() -> None:
    heap = ManualHeap()
    live = [heap.push(1000.0 + i, print) for i in range(100)]
    for i in range(20_000):
        heap.cancel(heap.push(random.uniform(1, 1000), print))
        assert heap._filed <= 2 * len(live) + STALE_SLACK + 1, i
    assert len(heap) == len(live)
    assert len(heap._buckets) <= heap._filed


def test_whatever_an_entry_raises_the_rest_of_the_batch_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heap = ManualHeap()
    ran: list[int] = []

    def explode(exc: BaseException) -> None:
        raise exc

    heap.push(1.0, explode, (SystemExit(3),))
    heap.push(1.0, ran.append, (1,))
    heap.push(1.0, explode, (KeyboardInterrupt(),))
    heap.push(1.0, ran.append, (2,))
    with caplog.at_level(logging.ERROR, logger="greenabc"):
        heap.run_due(1.0)
    assert ran == [1, 2]
    assert sum("raised" in r.getMessage() for r in caplog.records) == 2


def test_a_cancel_from_inside_a_batch_stops_the_rest_of_it() -> None:
    heap = ManualHeap()
    ran: list[str] = []
    second = heap.push(1.0, ran.append, ("second",))  # filled in below
    heap.push(0.5, lambda: heap.cancel(second))
    heap.run_due(1.0)
    assert ran == []


def test_counts_stay_exact_under_contention() -> None:
    heap = ManualHeap()
    kept: list[int] = []

    def churn() -> None:
        mine = 0
        for i in range(20_000):
            entry = heap.push(random.uniform(1, 100), print)
            if i % 3:
                assert heap.cancel(entry)
            else:
                mine += 1
        kept.append(mine)

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(heap) == sum(kept)
    assert len(heap) == len(heap.entries())


def test_a_cancel_racing_the_firing_loop_never_both_stops_and_runs_an_entry() -> None:
    # Each entry's call is claimed once, without a lock: it ran, or a cancel
    # returned True for it, never both and never neither. Rounds until the
    # two threads met inside one (the interpreter switches every 5 ms).
    mixed = 0
    for _ in range(20):
        heap = ManualHeap()
        ran: list[int] = []
        entries = [heap.push(0.5, ran.append, (i,)) for i in range(50_000)]
        stopped: list[int] = []

        def cancel_all(heap: ManualHeap, entries: list[list[object]], stopped: list[int]) -> None:
            for i in reversed(range(len(entries))):  # meets the firing loop half-way
                if heap.cancel(entries[i]):
                    stopped.append(i)

        canceller = threading.Thread(target=cancel_all, args=(heap, entries, stopped))
        canceller.start()
        heap.run_due(1.0)
        canceller.join()
        assert sorted(ran + stopped) == list(range(len(entries)))
        if ran and stopped:
            mixed += 1
            if mixed == 3:
                break
    assert mixed, "the canceller never ran while the entries fired"


def test_the_driver_is_armed_for_entries_filed_while_it_runs() -> None:
    # Entries due no sooner than the driver's wake-up wait in the inbox
    # without the lock, until run_due sorts them in: none may be left behind
    # it with the driver armed for later than its deadline. Checked after
    # each of many bursts of filings raced against a driver.
    heap = ManualHeap()
    now = [0.0]
    for _ in range(30):
        done = threading.Event()

        def drive(done: threading.Event = done) -> None:  # as a driver does
            while not done.is_set():
                now[0] += 0.0002
                if now[0] >= heap.wake_at:
                    heap.run_due(now[0])

        driver = threading.Thread(target=drive)
        driver.start()
        try:
            for _ in range(3000):
                heap.push(now[0] + random.uniform(0, 0.05), int)
        finally:
            done.set()
            driver.join()
        live = heap.entries()
        assert not live or heap.wake_at <= live[0][0] + 1 / TICKS  # its bucket, never later


def test_an_entry_filed_while_run_due_sorts_waits_for_it() -> None:
    # While run_due sorts the inbox and takes out what is due, a filing must
    # take the lock (wait for it): appended behind the sort, it would be left
    # in the inbox with the driver re-armed for later than its deadline.
    late_entry: list[list[object]] = []

    class FilingHeap(ManualHeap):
        __slots__ = ()

        def _arm(self, when: float) -> None:
            super()._arm(when)
            if when == 2.0 and not late_entry:  # run_due re-arming, its lock held
                late_entry.append(self.push(1.5, int))  # as another thread would

    heap = FilingHeap()
    heap.lock = threading.RLock()  # the filing above comes from the same thread
    heap.push(1.0, int)
    heap.push(2.0, int)  # waits in the inbox: due after the driver's wake-up
    heap.run_due(1.0)
    assert late_entry
    assert heap.wake_at <= 1.5 + 1 / TICKS  # armed for it, never later
