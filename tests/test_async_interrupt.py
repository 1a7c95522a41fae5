"""The shield of OS-thread interrupts: what the threads backend's clean-up
code (a Celery report, gunicorn's 503 to a killed request, aio's cancel
hand-off) relies on while greenabc re-sends a kill every 10 ms."""

from __future__ import annotations

import threading
import time

import pytest

from greenabc._core._async_interrupt import (
    ASYNC_INTERRUPTS,
    send_async_interrupt,
    shield_dropping,
    unshield,
)

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not ASYNC_INTERRUPTS, reason="this interpreter cannot interrupt a thread"),
]


class Boom(BaseException):
    pass


def _busy(seconds: float) -> int:
    """Python bytecodes for *seconds*: an interrupt lands in here."""
    end = time.monotonic() + seconds
    spins = 0
    while time.monotonic() < end:
        spins += 1
    return spins


def _flood(ident: int, stop: threading.Event) -> None:
    while not stop.is_set():
        send_async_interrupt(ident, Boom)
        time.sleep(0.001)


def _run_flooded(body: object) -> list[str]:
    """Run *body* in a thread that is sent Boom every millisecond from the
    start; what it recorded."""
    seen: list[str] = []
    started = threading.Event()
    stop = threading.Event()

    def target() -> None:
        started.set()
        try:
            body(seen)  # type: ignore[operator]
        except Boom:
            seen.append("boom escaped")
        finally:
            # Drain a last one that arrives before the thread ends.
            while True:
                try:
                    stop.set()
                    _busy(0.02)
                    break
                except Boom:
                    continue

    thread = threading.Thread(target=target)
    thread.start()
    started.wait()
    flooder = threading.Thread(target=_flood, args=(thread.ident, stop))
    flooder.start()
    thread.join(20)
    stop.set()
    flooder.join(5)
    assert not thread.is_alive()
    return seen


def test_shield_dropping_keeps_out_a_flood_of_interrupts() -> None:
    def body(seen: list[str]) -> None:
        try:
            _busy(5)  # interrupted long before it ends
            seen.append("not interrupted")
        except Boom:
            seen.append("interrupted")
            shield_dropping()  # the next Boom is already on its way
            try:
                _busy(0.2)  # ~200 interrupts sent meanwhile, all dropped
                seen.append("clean-up done")
            finally:
                unshield()

    assert _run_flooded(body) == ["interrupted", "clean-up done"]


def test_without_the_shield_the_flood_cuts_the_clean_up_short() -> None:
    """The test above can fail: with no shield, the clean-up is cut."""

    def body(seen: list[str]) -> None:
        try:
            _busy(5)
        except Boom:
            seen.append("interrupted")
            _busy(0.2)
            seen.append("clean-up done")

    assert _run_flooded(body) == ["interrupted", "boom escaped"]
