"""Blocking detection, what only gevent's monitor needs (the promises every
detector keeps are the conformance kit's, in test_blocking.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import gevent
import pytest
from gevent import monkey

import greenabc
from greenabc.adapter import EngineBackend

THRESHOLD = 0.1


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="greenabc.blocking")
    return caplog


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


def _settle() -> None:
    gevent.sleep(3 * THRESHOLD)  # the stall's end is seen and reported


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


def test_one_detector_at_a_time_and_a_new_one_after_cancel(backend: EngineBackend) -> None:
    # gevent's monitor thread has one max_blocking_time for the whole process.
    detector = backend.detect_blocking(THRESHOLD)
    with pytest.raises(greenabc.GreenabcError, match="already on"):
        backend.detect_blocking(THRESHOLD)
    detector.cancel()
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
