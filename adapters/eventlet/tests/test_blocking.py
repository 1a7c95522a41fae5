"""Blocking detection, what only eventlet's hub needs (the promises every
detector keeps are the conformance kit's, in test_blocking.py)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import eventlet
import pytest
from eventlet import patcher

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
