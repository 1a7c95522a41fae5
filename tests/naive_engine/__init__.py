"""A naive third-party engine on OS threads, for the conformance kit.

Written the way an adapter author outside greenabc would write one: only
``greenabc.adapter`` and ``greenabc.interfaces`` of greenabc, the standard
library for the rest, and nothing clever. Tasks are OS threads, one
scheduler thread of its own runs every ``call_later`` (a plain heap, cancelled
calls left in it until due), and ``greenabc.adapter.OSThreadEngineBase``
supplies the rest. The kit passing on it shows that the public adapter API
is enough and that the kit fails no correct engine (see docs/adapters.md).

Run the kit on it with ``python tools/run_tests.py --only naive-threads``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from greenabc.adapter import EngineBackend, OSThreadEngineBase
from greenabc.interfaces import Capabilities

NAME = "naive-threads"
logger = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    is_green=False,
    signal_safe=False,
    can_interrupt=True,
    can_interrupt_blocking_calls=False,  # an async exception waits for C to return
    can_detect_blocking=False,
    can_patch=False,
    notes=("a naive engine on OS threads: the kit's example of a third-party engine",),
)


class _Call:
    __slots__ = ("args", "cancelled", "fn")

    def __init__(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True  # left in the heap until due: naive


class _Scheduler:
    """One daemon thread that runs every call when it is due, soonest first."""

    def __init__(self) -> None:
        # Taken with a plain C lock: callers may be inside a timeout scope,
        # and an interrupt landing in a Python-level __enter__ (a Condition's)
        # after it acquired would leak the lock (docs/adapters.md).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[..., object], args: tuple[Any, ...]) -> _Call:
        call = _Call(fn, args)
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), call))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=NAME, daemon=True)
                self._thread.start()
            self._cond.notify()
        return call

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, call = heapq.heappop(self._heap)
            if call.cancelled:
                continue
            try:
                call.fn(*call.args)
            except BaseException:  # whatever a callback raises, the scheduler goes on
                logger.exception("%s: scheduled call %r raised", NAME, call.fn)


class NaiveThreadEngine(OSThreadEngineBase):
    """The Engine on plain OS threads: a thread per spawn and its own
    scheduler thread; ``OSThreadEngineBase`` supplies the rest (interrupts by
    ``send_async_interrupt``, safe under a tracer on CPython 3.11, the
    standard library's primitives, fd waits)."""

    protocol_version = 3

    def __init__(self) -> None:
        self._scheduler = _Scheduler()

    def spawn(self, fn: Callable[[], object]) -> object:
        thread = threading.Thread(target=fn, daemon=True)
        thread.start()
        return thread.ident

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> _Call:
        return self._scheduler.call_later(delay, fn, args)


def backend() -> EngineBackend:
    """The entry-point factory (see ``site/``, put on ``sys.path`` by
    tools/run_tests.py, so that the fresh interpreters some kit tests start
    find the backend too)."""
    return EngineBackend(NAME, NaiveThreadEngine(), CAPABILITIES, default_pool_size=16)
