"""The built-in ``threads`` backend: standard library only.

* Tasks run on reused OS threads.
* One scheduler thread serves everything due at a time: it drives the
  backend's one deadline structure (``greenabc.adapter.DeadlineHeap``).
* Interruption is an asynchronous exception, delivered at the next bytecode
  boundary: a thread blocked in C (a blocking syscall, a C extension) is not
  interrupted until it returns. Timeouts are still decided and reported on
  time, and a late result is discarded.

``threading``, ``queue`` and ``time`` objects are looked up at call time, so
patching after import leaves no stale object here.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from .adapter import ASYNC_INTERRUPTS, DeadlineHeap, EngineBackend, OSThreadEngineBase
from .interfaces import Capabilities

logger = logging.getLogger("greenabc")


class _Scheduler(DeadlineHeap):
    """One daemon thread that runs every scheduled call, soonest first: a
    :class:`~greenabc.adapter.DeadlineHeap` driven by a condition. Whatever a
    call raises is logged and the thread goes on; should it die anyway, the
    next call that arms it starts another."""

    __slots__ = ("__weakref__", "_cond", "_thread")

    def __init__(self) -> None:
        # The heap's lock is a plain C lock: other threads take it inside
        # their timeout scopes, and an interrupt can land right after a
        # Python-level __enter__ (Condition's) acquired, leaking the lock. The
        # condition over it is this thread's alone.
        lock = threading.Lock()
        super().__init__(lock, time.monotonic)
        self._cond = threading.Condition(lock)
        self._thread: threading.Thread | None = None
        _schedulers.add(self)

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> _Call:
        return _Call(self, self.push(time.monotonic() + delay, fn, args))

    def _after_fork(self) -> None:
        # The thread stayed in the parent, and its lock may be held there.
        self.lock = threading.Lock()
        self._cond = threading.Condition(self.lock)
        self._thread = None
        if self.wake_at != math.inf:
            with self._cond:
                self._arm(self.wake_at)

    def _arm(self, when: float) -> None:
        # The lock is held: the thread re-reads the head when it wakes.
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="greenabc-scheduler", daemon=True
            )
            self._thread.start()
        else:
            self._cond.notify()

    def _run(self) -> None:
        sys.settrace(None)  # never traced: a traced sender stalls on 3.11 (_core._async_interrupt)
        cond = self._cond
        while True:
            with cond:
                delay = self.wake_at - time.monotonic()
                if delay > 0:
                    cond.wait(None if delay == math.inf else delay)
                    continue
            self.run_due(time.monotonic())


_schedulers: weakref.WeakSet[_Scheduler] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):

    def _reset_after_fork() -> None:
        for scheduler in list(_schedulers):
            scheduler._after_fork()

    os.register_at_fork(after_in_child=_reset_after_fork)


class _Call:
    """The handle ``ThreadEngine.call_later`` returns."""

    __slots__ = ("_entry", "_scheduler")

    def __init__(self, scheduler: _Scheduler, entry: list[Any]) -> None:
        self._scheduler = scheduler
        self._entry = entry

    def cancel(self) -> None:
        self._scheduler.cancel(self._entry)


class ThreadEngine(OSThreadEngineBase):
    """The Engine on OS threads: a thread per worker, one scheduler thread;
    the rest is ``OSThreadEngineBase``'s (asynchronous-exception interrupts,
    the standard library's primitives, fd waits by ``poll``)."""

    protocol_version = 3

    def __init__(self) -> None:
        self.scheduler = _Scheduler()  # also the backend's deadlines

    def spawn(self, fn: Callable[[], object]) -> object:
        thread = threading.Thread(target=fn, name="greenabc-worker", daemon=True)
        thread.start()
        return thread.ident

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> _Call:
        return self.scheduler.call_later(delay, fn, *args)


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
    engine = ThreadEngine()
    return EngineBackend(
        "threads",
        engine,
        CAPABILITIES,
        default_pool_size=min(32, (os.cpu_count() or 1) + 4),
        deadlines=engine.scheduler,
    )
