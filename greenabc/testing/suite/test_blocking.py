"""Blocking detection, on a backend that declares ``can_detect_blocking``:
one report per stall (a WARNING on the logger ``greenabc.blocking`` with
``blocked_seconds`` and ``blocked_stack``, and one ``hub_blocked`` signal),
naming the code that blocked; no report for short pauses or after
``cancel()``. The hub is blocked with the unpatched ``time.sleep`` (from the
backend's patcher) or a loop that never yields."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import greenabc
from greenabc import signals

from ._helpers import PROMPT, busy, wait_until

THRESHOLD = 0.1
STALL = 0.5


class Reports(logging.Handler):
    """The records of ``greenabc.blocking`` and the ``hub_blocked`` signals."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.signals: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def receive(self, sender: object, **kwargs: Any) -> None:
        self.signals.append({"sender": sender, **kwargs})

    def settled(self, count: int) -> bool:
        """True once *count* reports came and, a while later, no more."""
        if not wait_until(lambda: len(self.records) >= count, PROMPT):
            return False
        time.sleep(3 * THRESHOLD)  # green: the hub runs, and would report more
        return len(self.records) == count


@pytest.fixture
def reports() -> Iterator[Reports]:
    logger = logging.getLogger("greenabc.blocking")
    handler = Reports()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    signals.hub_blocked.connect(handler.receive)
    try:
        yield handler
    finally:
        signals.hub_blocked.disconnect(handler.receive)
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def real_sleep(greenabc_backend: greenabc.Backend) -> Callable[[float], None]:
    """A sleep that blocks the whole hub."""
    if not greenabc_backend.capabilities.can_detect_blocking:
        pytest.skip(f"{greenabc_backend.name} declares can_detect_blocking=False")
    if greenabc_backend.patcher is None:
        pytest.skip(
            f"{greenabc_backend.name} has no patcher: the kit cannot get an unpatched"
            " blocking call to block its hub with"
        )
    sleep: Callable[[float], None] = greenabc_backend.patcher.original("time", "sleep")
    return sleep


@contextmanager
def detecting(backend: greenabc.Backend, threshold: float = THRESHOLD) -> Iterator[None]:
    handle = backend.detect_blocking(threshold)
    try:
        time.sleep(3 * threshold)  # green: the detector is up and has seen the hub run
        yield
    finally:
        handle.cancel()


def sleeps_in_the_hub(real_sleep: Callable[[float], None]) -> None:
    real_sleep(STALL)


def spins_in_the_hub(real_sleep: Callable[[float], None]) -> None:
    busy(STALL)


@pytest.mark.parametrize("blocker", [sleeps_in_the_hub, spins_in_the_hub])
def test_one_stall_gives_one_report_naming_the_blocker(
    greenabc_backend: greenabc.Backend,
    real_sleep: Callable[[float], None],
    reports: Reports,
    blocker: Callable[[Callable[[float], None]], None],
) -> None:
    with detecting(greenabc_backend):
        greenabc_backend.spawn(blocker, real_sleep).get(timeout=STALL + PROMPT)
        assert reports.settled(1), [r.getMessage() for r in reports.records]
    record = reports.records[0]
    assert record.levelno == logging.WARNING
    assert blocker.__name__ in record.getMessage()
    seconds = record.blocked_seconds  # type: ignore[attr-defined]
    # How long, give or take how often a detector looks (about once a
    # threshold); the upper bound leaves room for a loaded machine.
    assert STALL - 2 * THRESHOLD <= seconds < STALL + PROMPT, seconds
    assert blocker.__name__ in record.blocked_stack  # type: ignore[attr-defined]
    assert len(reports.signals) == 1
    sent = reports.signals[0]
    assert sent["sender"] == greenabc_backend.name
    assert sent["seconds"] == seconds
    assert blocker.__name__ in sent["stack"]


def test_two_stalls_give_two_reports(
    greenabc_backend: greenabc.Backend, real_sleep: Callable[[float], None], reports: Reports
) -> None:
    with detecting(greenabc_backend):
        for count in (1, 2):
            real_sleep(STALL)
            assert reports.settled(count), [r.getMessage() for r in reports.records]


def test_short_pauses_are_not_reported(
    greenabc_backend: greenabc.Backend, real_sleep: Callable[[float], None], reports: Reports
) -> None:
    # A busy hub that yields between short pauses; the threshold leaves room
    # for a loaded machine to be late waking from each.
    threshold = 0.3
    with detecting(greenabc_backend, threshold):
        for _ in range(20):
            real_sleep(threshold / 15)
            time.sleep(0)  # green: the hub runs
        time.sleep(3 * threshold)
    assert reports.records == []
    assert reports.signals == []


def test_cancel_stops_reports(
    greenabc_backend: greenabc.Backend, real_sleep: Callable[[float], None], reports: Reports
) -> None:
    handle = greenabc_backend.detect_blocking(THRESHOLD)
    time.sleep(3 * THRESHOLD)  # green: the detector is up
    handle.cancel()
    handle.cancel()  # twice is fine
    real_sleep(STALL)
    time.sleep(3 * THRESHOLD)
    assert reports.records == []


@pytest.mark.parametrize("threshold", [-1, math.nan, math.inf, 0])
def test_bad_thresholds_are_refused(greenabc_backend: greenabc.Backend, threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        greenabc_backend.detect_blocking(threshold)
