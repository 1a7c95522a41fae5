"""A naive third-party engine on OS threads, for the conformance kit.

Written the way an adapter author outside greenabc would write one: only
``greenabc.adapter`` and ``greenabc.interfaces`` of greenabc, the standard
library for the rest, and nothing clever. Tasks are OS threads, interrupts
are ``PyThreadState_SetAsyncExc``, and one scheduler thread of its own runs
every ``call_later``. The kit passing on it shows that the public adapter API
is enough and that the kit fails no correct engine (see docs/adapters.md).

Run the kit on it with ``python tools/run_tests.py --only naive-threads``.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import logging
import queue
import select
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from greenabc.adapter import Capabilities, EngineBackend
from greenabc.interfaces import Portal, QueueLike

T = TypeVar("T")

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
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Call]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[..., object], args: tuple[Any, ...]) -> _Call:
        call = _Call(fn, args)
        with self._cond:
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


class _Portal:
    """Every OS thread is an engine thread here: calls go to the scheduler."""

    def __init__(self, scheduler: _Scheduler) -> None:
        self._scheduler = scheduler

    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        self._scheduler.call_later(0, fn, args)

    def is_home(self) -> bool:
        return True


def _wait_fd(fd: int, events: int, timeout: float | None) -> bool:
    poller = select.poll()
    poller.register(fd, events)
    return bool(poller.poll(None if timeout is None else timeout * 1000))


class NaiveThreadEngine:
    """The Engine primitives (protocol version 2) on plain OS threads."""

    protocol_version = 2

    def __init__(self) -> None:
        self._scheduler = _Scheduler()

    def spawn(self, fn: Callable[[], object]) -> object:
        thread = threading.Thread(target=fn, daemon=True)
        thread.start()
        return thread.ident

    def current(self) -> object:
        return threading.get_ident()

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None:
        if guard():
            assert isinstance(handle, int)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(handle), ctypes.py_object(exc_type)
            )

    # The standard library's own primitives, as they are.
    sleep = staticmethod(time.sleep)
    monotonic = staticmethod(time.monotonic)
    event = staticmethod(threading.Event)
    lock = staticmethod(threading.Lock)
    semaphore = staticmethod(threading.Semaphore)

    def queue(self) -> QueueLike:
        return queue.SimpleQueue()

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> _Call:
        return self._scheduler.call_later(delay, fn, args)

    def to_thread(self, fn: Callable[[], T]) -> T:
        return fn()  # the caller is an OS thread already: blocking it stalls nobody

    def portal(self) -> Portal:
        return _Portal(self._scheduler)

    def wait_readable(self, fd: int, timeout: float | None) -> bool:
        return _wait_fd(fd, select.POLLIN, timeout)

    def wait_writable(self, fd: int, timeout: float | None) -> bool:
        return _wait_fd(fd, select.POLLOUT, timeout)


def backend() -> EngineBackend:
    """The entry-point factory (see ``site/``, put on ``sys.path`` by
    tools/run_tests.py, so that the fresh interpreters some kit tests start
    find the backend too)."""
    return EngineBackend(NAME, NaiveThreadEngine(), CAPABILITIES, default_pool_size=16)
