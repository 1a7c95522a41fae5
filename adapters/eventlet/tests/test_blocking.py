"""Blocking detection: one report, with the stack of the code that blocked,
and user code left alone."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import eventlet
import pytest
from eventlet import patcher

from greenabc import signals
from greenabc_eventlet._backend import EventletBackend

real_sleep = patcher.original("time").sleep
THRESHOLD = 0.1


@pytest.fixture
def reports(
    backend: EventletBackend, caplog: pytest.LogCaptureFixture
) -> Iterator[list[logging.LogRecord]]:
    caplog.set_level(logging.WARNING, logger="greenabc.blocking")
    detector = backend.detect_blocking(THRESHOLD)
    records: list[logging.LogRecord] = []
    yield records
    detector.cancel()
    records.extend(r for r in caplog.records if r.name == "greenabc.blocking")


def block_the_hub(seconds: float) -> str:
    real_sleep(seconds)  # not green: nothing else runs meanwhile
    return "finished normally"


def blocked_seconds(record: logging.LogRecord) -> float:
    match = re.search(r"blocked for ([0-9.]+) s", record.getMessage())
    assert match, record.getMessage()
    return float(match.group(1))


def test_one_report_naming_the_blocking_function(
    reports: list[logging.LogRecord], caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[dict[str, Any]] = []

    def receiver(sender: str, **kwargs: Any) -> None:
        sent.append({"sender": sender, **kwargs})

    signals.hub_blocked.connect(receiver)
    try:
        blocker = eventlet.spawn(block_the_hub, 0.4)
        assert blocker.wait() == "finished normally"  # never interrupted
        eventlet.sleep(0.3)  # the hub runs again: the report goes out
    finally:
        signals.hub_blocked.disconnect(receiver)
    records = [r for r in caplog.records if r.name == "greenabc.blocking"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "block_the_hub" in message
    assert "real_sleep(seconds)" in message
    assert 0.3 <= blocked_seconds(records[0]) < 0.4 + THRESHOLD
    assert len(sent) == 1
    assert sent[0]["sender"] == "eventlet"
    assert "block_the_hub" in sent[0]["stack"]
    assert sent[0]["seconds"] >= 0.3


def test_code_resumed_by_a_socket_is_watched_too(
    reports: list[logging.LogRecord], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = socket.socketpair()

    def reader_that_blocks() -> None:
        a.recv(1)
        real_sleep(0.3)

    with a, b:
        reader = eventlet.spawn(reader_that_blocks)
        eventlet.sleep(0.05)
        b.send(b"x")
        reader.wait()
        eventlet.sleep(0.2)
    records = [r for r in caplog.records if r.name == "greenabc.blocking"]
    assert len(records) == 1
    assert "reader_that_blocks" in records[0].getMessage()


def test_short_stalls_and_a_busy_but_yielding_hub_are_not_reported(
    reports: list[logging.LogRecord], caplog: pytest.LogCaptureFixture
) -> None:
    def polite() -> None:
        for _ in range(20):
            real_sleep(THRESHOLD / 10)
            eventlet.sleep(0)

    eventlet.spawn(polite).wait()
    eventlet.sleep(0.2)
    assert [r for r in caplog.records if r.name == "greenabc.blocking"] == []


def test_cancel_stops_reporting(backend: EventletBackend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="greenabc.blocking")
    detector = backend.detect_blocking(THRESHOLD)
    detector.cancel()
    detector.cancel()  # twice is fine
    eventlet.spawn(block_the_hub, 0.3).wait()
    eventlet.sleep(0.2)
    assert [r for r in caplog.records if r.name == "greenabc.blocking"] == []


def test_a_zero_threshold_is_refused(backend: EventletBackend) -> None:
    with pytest.raises(ValueError, match="threshold"):
        backend.detect_blocking(0)
