"""Blocking detection: one report per stall, with how long and the stack."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent import monkey

import greenabc
from greenabc import signals
from greenabc.adapter import EngineBackend

THRESHOLD = 0.1


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="greenabc.blocking")
    return caplog


@pytest.fixture
def signalled() -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []

    def receiver(sender: str, **kwargs: Any) -> None:
        got.append({"sender": sender, **kwargs})

    signals.hub_blocked.connect(receiver)
    try:
        yield got
    finally:
        signals.hub_blocked.disconnect(receiver)


@pytest.fixture
def detecting(backend: EngineBackend) -> Iterator[None]:
    gevent.sleep(0.01)
    detector = backend.detect_blocking(THRESHOLD)
    try:
        gevent.sleep(2.5 * THRESHOLD)  # the monitor thread is up and has checked
        yield
    finally:
        detector.cancel()


def _sleeps_in_the_hub_thread(seconds: float) -> None:
    monkey.get_original("time", "sleep")(seconds)  # unpatched: blocks the whole hub


def _spins_the_cpu(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _settle() -> None:
    gevent.sleep(3 * THRESHOLD)  # the stall's end is seen and reported


@pytest.mark.usefixtures("detecting")
@pytest.mark.parametrize("blocker", [_sleeps_in_the_hub_thread, _spins_the_cpu])
def test_one_stall_gives_one_report_with_how_long_and_the_stack(
    blocker: Any, log: pytest.LogCaptureFixture, signalled: list[dict[str, Any]]
) -> None:
    gevent.spawn(blocker, 0.5).join(timeout=5)
    _settle()
    assert len(log.records) == 1, [r.getMessage() for r in log.records]
    record = log.records[0]
    message = record.getMessage()
    assert record.name == "greenabc.blocking"
    assert record.levelno == logging.WARNING
    assert "was blocked for at least" in message
    assert blocker.__name__ in message
    seconds = record.blocked_seconds  # type: ignore[attr-defined]
    assert 0.5 - THRESHOLD <= seconds <= 0.5 + THRESHOLD
    assert f"{seconds:.3f} s" in message
    assert len(signalled) == 1
    assert signalled[0]["sender"] == "gevent"
    assert signalled[0]["seconds"] == seconds
    assert blocker.__name__ in signalled[0]["stack"]


@pytest.mark.usefixtures("detecting")
def test_two_stalls_give_two_reports(log: pytest.LogCaptureFixture) -> None:
    for _ in range(2):
        _sleeps_in_the_hub_thread(0.35)
        _settle()
    assert len(log.records) == 2


@pytest.mark.usefixtures("detecting")
def test_a_short_pause_is_not_reported(log: pytest.LogCaptureFixture) -> None:
    for _ in range(5):
        _sleeps_in_the_hub_thread(THRESHOLD / 4)
        gevent.sleep(0.01)
    _settle()
    assert log.records == []


@pytest.mark.usefixtures("detecting")
def test_a_hung_hub_is_reported_while_it_is_still_blocked(
    log: pytest.LogCaptureFixture,
) -> None:
    from greenabc_gevent._blocking import STILL_BLOCKED_AFTER

    hang = STILL_BLOCKED_AFTER * THRESHOLD + 0.4
    _sleeps_in_the_hub_thread(hang)
    # Reported from the monitor thread while we were still asleep.
    assert len(log.records) == 1
    assert "has been blocked for at least" in log.records[0].getMessage()
    _settle()
    assert len(log.records) == 1  # and not once more when the stall ends


def test_cancel_stops_reports_and_allows_a_new_detector(
    backend: EngineBackend, log: pytest.LogCaptureFixture
) -> None:
    detector = backend.detect_blocking(THRESHOLD)
    with pytest.raises(greenabc.GreenabcError, match="already on"):
        backend.detect_blocking(THRESHOLD)
    gevent.sleep(2.5 * THRESHOLD)
    detector.cancel()
    detector.cancel()  # idempotent
    _sleeps_in_the_hub_thread(0.35)
    _settle()
    assert log.records == []
    backend.detect_blocking(THRESHOLD).cancel()


def test_gevent_prints_no_report_of_its_own(
    backend: EngineBackend, capfd: pytest.CaptureFixture[str]
) -> None:
    detector = backend.detect_blocking(THRESHOLD)
    try:
        gevent.sleep(2.5 * THRESHOLD)
        _sleeps_in_the_hub_thread(0.35)
        _settle()
    finally:
        detector.cancel()
    assert "appears to be blocked" not in capfd.readouterr().err


def test_bad_thresholds_are_refused(backend: EngineBackend) -> None:
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="threshold"):
            backend.detect_blocking(bad)
    with pytest.raises(ValueError, match="> 0"):
        backend.detect_blocking(0)
