"""The built-in ``threads`` backend: standard library only.

* Tasks run on reused OS threads.
* One scheduler thread serves every timer entry and timeout (a heap).
* Interruption is an asynchronous exception, delivered at the next bytecode
  boundary: a thread blocked in C (a blocking syscall, a C extension) is not
  interrupted until it returns. Timeouts are still decided and reported on
  time, and a late result is discarded.

``threading``, ``queue`` and ``time`` objects are looked up at call time, so
patching after import leaves no stale object here.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .adapter import ASYNC_INTERRUPTS, EngineBackend, OSThreadEngineBase
from .interfaces import Capabilities

logger = logging.getLogger("greenabc")


class _Call:
    __slots__ = ("args", "cancelled", "deadline", "fn", "scheduler")

    def __init__(
        self,
        scheduler: _Scheduler,
        deadline: float,
        fn: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        self.scheduler = scheduler
        self.deadline = deadline
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.scheduler._note_cancelled()


class _Scheduler:
    """One daemon thread that runs every scheduled call, soonest first."""

    def __init__(self) -> None:
        self._cond: threading.Condition | None = None
        self._heap: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def _condition(self) -> threading.Condition:
        # Created on first use (and anew after fork), never at import time.
        if self._cond is None or self._pid != os.getpid():
            self._cond = threading.Condition(threading.Lock())
            self._heap = []
            self._thread = None
            self._pid = os.getpid()
        return self._cond

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> _Call:
        call = _Call(self, time.monotonic() + delay, fn, args)
        cond = self._condition()
        with cond:
            heapq.heappush(self._heap, (call.deadline, next(self._seq), call))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="greenabc-scheduler", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is call:
                cond.notify()
        return call

    def _note_cancelled(self) -> None:
        # Cancelled calls stay in the heap until due; compact when they
        # dominate, so many cancelled timeouts cannot grow it without bound.
        self._cancelled += 1
        if self._cancelled > 1024 and self._cancelled * 2 > len(self._heap):
            cond = self._condition()
            with cond:
                self._heap[:] = [item for item in self._heap if not item[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _run(self) -> None:
        sys.settrace(None)  # never traced: a traced sender stalls on 3.11 (_core._async_interrupt)
        cond = self._condition()
        heap = self._heap  # compacted in place, never rebound (but after fork)
        while True:
            with cond:
                while True:
                    if not heap:
                        cond.wait()
                        continue
                    deadline, _, call = heap[0]
                    if call.cancelled:
                        heapq.heappop(heap)
                        continue
                    delay = deadline - time.monotonic()
                    if delay > 0:
                        cond.wait(delay)
                        continue
                    heapq.heappop(heap)
                    break
            try:
                call.fn(*call.args)
            except Exception:
                logger.exception("greenabc: scheduled call %r raised", call.fn)


class ThreadEngine(OSThreadEngineBase):
    """The Engine on OS threads: a thread per worker, one scheduler thread;
    the rest is ``OSThreadEngineBase``'s (asynchronous-exception interrupts,
    the standard library's primitives, fd waits by ``poll``)."""

    protocol_version = 3

    def __init__(self) -> None:
        self._scheduler = _Scheduler()

    def spawn(self, fn: Callable[[], object]) -> object:
        thread = threading.Thread(target=fn, name="greenabc-worker", daemon=True)
        thread.start()
        return thread.ident

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> _Call:
        return self._scheduler.call_later(delay, fn, *args)


CAPABILITIES = Capabilities(
    is_green=False,
    signal_safe=False,
    can_interrupt=ASYNC_INTERRUPTS,
    can_interrupt_blocking_calls=False,
    can_detect_blocking=False,
    can_patch=False,
    notes=(
        "interrupts (kill, timeouts) land at the next bytecode boundary: a thread"
        " blocked in C is not interrupted until the call returns, but its timeout"
        " is still reported on time and its late result discarded",
        "on CPython 3.11 under a tracer (coverage, a debugger) an interrupt that waits"
        " on a thread blocked in C is taken back after 5 ms and sent again (a 3.11 defect"
        " stalls every traced thread meanwhile); a soft timeout may then be missed",
    ),
)


def backend() -> EngineBackend:
    """The entry-point factory of the ``threads`` backend."""
    return EngineBackend(
        "threads",
        ThreadEngine(),
        CAPABILITIES,
        default_pool_size=min(32, (os.cpu_count() or 1) + 4),
    )
