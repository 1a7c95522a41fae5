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

import ctypes
import dis
import logging
import math
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from ._core._primitives import POLL_READ, POLL_WRITE, poll_fd
from ._core._task import _checkpoint
from .adapter import DeadlineHeap, EngineBackend
from .interfaces import (
    Capabilities,
    EventLike,
    LockLike,
    Portal,
    QueueLike,
    SemaphoreLike,
    SyncCondition,
    SyncEvent,
    SyncLock,
    SyncQueue,
    SyncSemaphore,
)

T = TypeVar("T")

logger = logging.getLogger("greenabc")

_set_async_exc = getattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc", None)

#: CPython 3.11 only: while an asynchronous exception waits for a thread that
#: is blocked in C, every traced thread (coverage, a debugger) spins at its
#: next function call until that thread wakes: a stall, and a deadlock when
#: the blocked thread waits for a stalled one. 3.10, 3.12 and later do not.
_TRACING_STALLS = sys.version_info[:2] == (3, 11)
#: Where a thread stands when it may be blocked in C (a call, a ``with``'s
#: __enter__, an iterator): not a moment to send it an interrupt under a tracer.
_MAY_BLOCK = frozenset(
    dis.opmap[name]
    for name in ("CALL", "PRECALL", "CALL_FUNCTION_EX", "BEFORE_WITH", "GET_ITER", "FOR_ITER")
    if name in dis.opmap
)


#: Under a tracer on 3.11, an interrupt still waiting on a thread in C after
#: this long is taken back (and sent again by the core's next re-send).
_WITHDRAW_AFTER = 0.005


class _Withdrawn(BaseException):
    """Raised in the scheduler thread itself to clear the flag that taking an
    interrupt back leaves set (see ``ThreadEngine._withdraw``)."""


def _traced() -> bool:
    return sys.gettrace() is not None or threading.gettrace() is not None


class _Scheduler(DeadlineHeap):
    """One daemon thread that runs every scheduled call, soonest first: a
    :class:`~greenabc.adapter.DeadlineHeap` driven by a condition. Whatever a
    call raises is logged and the thread goes on; should it die anyway, the
    next call that arms it starts another."""

    __slots__ = ("__weakref__", "_cond", "_thread")

    def __init__(self) -> None:
        # Reentrant: a scope interrupts under the heap's lock, and an interrupt
        # under a tracer schedules its withdrawal here (see ThreadEngine.interrupt).
        cond = threading.Condition(threading.RLock())
        super().__init__(cond, time.monotonic)
        self._cond = cond
        self._thread: threading.Thread | None = None
        _schedulers.add(self)

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> _Call:
        return _Call(self, self.push(time.monotonic() + delay, fn, args))

    def _after_fork(self) -> None:
        # The thread stayed in the parent, and its lock may be held there.
        self._cond = self.lock = threading.Condition(threading.RLock())
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
        sys.settrace(None)  # never traced: see _TRACING_STALLS and ThreadEngine._withdraw
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


class ThreadEngine:
    """The Engine primitives on OS threads."""

    def __init__(self) -> None:
        self.scheduler = _Scheduler()

    def spawn(self, fn: Callable[[], object]) -> object:
        thread = threading.Thread(target=fn, name="greenabc-worker", daemon=True)
        thread.start()
        return thread.ident

    def current(self) -> object:
        return threading.get_ident()

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None:
        # Raised at the target's next check for asynchronous exceptions (a
        # Python call or loop jump). Nothing is ever cleared with
        # PyThreadState_SetAsyncExc(id, NULL): on 3.11 that leaves a flag set
        # that a traced eval loop spins on; the core drains instead.
        if _set_async_exc is None or not guard():
            return
        if _TRACING_STALLS and _traced():  # first: a traced caller stalls once it has sent
            self.scheduler.call_later(_WITHDRAW_AFTER, self._withdraw, handle)
        _set_async_exc(ctypes.c_ulong(handle), ctypes.py_object(exc_type))  # type: ignore[arg-type]

    @staticmethod
    def _withdraw(ident: int) -> None:
        """In the (untraced) scheduler thread: take back an interrupt that still
        waits on a thread blocked in C, so traced threads stall for
        ``_WITHDRAW_AFTER`` at most, never until that thread wakes."""
        frame = sys._current_frames().get(ident)
        if frame is None or frame.f_code.co_code[frame.f_lasti] not in _MAY_BLOCK:
            return  # running Python: it has raised it, or does so at once
        assert _set_async_exc is not None
        _set_async_exc(ctypes.c_ulong(ident), None)
        me = ctypes.c_ulong(threading.get_ident())
        try:  # that leaves the interpreter's flag set: raising one here clears it
            _set_async_exc(me, ctypes.py_object(_Withdrawn))
            _checkpoint()
        except _Withdrawn:
            pass

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def event(self) -> EventLike:
        return threading.Event()

    def lock(self) -> LockLike:
        return threading.Lock()

    def semaphore(self, value: int) -> SemaphoreLike:
        return threading.Semaphore(value)

    def queue(self) -> QueueLike:
        return queue.SimpleQueue()

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> _Call:
        return self.scheduler.call_later(delay, fn, *args)

    def monotonic(self) -> float:
        return time.monotonic()

    # Protocol version 2 (see greenabc.interfaces.Engine).

    protocol_version = 2

    def to_thread(self, fn: Callable[[], T]) -> T:
        # Every task is an OS thread already: call in place, so blocking here
        # stalls nobody else and no extra threads are started.
        return fn()

    def portal(self) -> Portal:
        return _ThreadPortal(self.scheduler)

    def wait_readable(self, fd: int, timeout: float | None) -> bool:
        return poll_fd(fd, POLL_READ, timeout)

    def wait_writable(self, fd: int, timeout: float | None) -> bool:
        return poll_fd(fd, POLL_WRITE, timeout)

    # The standard library's own primitives, looked up at call time.

    def Event(self) -> SyncEvent:  # noqa: N802
        return threading.Event()

    def Lock(self) -> SyncLock:  # noqa: N802
        return threading.Lock()

    def RLock(self) -> SyncLock:  # noqa: N802
        return threading.RLock()

    def Semaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        return threading.Semaphore(value)

    def BoundedSemaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        return threading.BoundedSemaphore(value)

    def Condition(self, lock: SyncLock | None = None) -> SyncCondition:  # noqa: N802
        return threading.Condition(lock)  # type: ignore[arg-type]

    def Queue(self, maxsize: int = 0) -> SyncQueue:  # noqa: N802
        return queue.Queue(maxsize)

    def local(self) -> Any:
        return threading.local()


class _ThreadPortal:
    """Every OS thread is an engine thread here: calls go to the scheduler."""

    __slots__ = ("_scheduler",)

    def __init__(self, scheduler: _Scheduler) -> None:
        self._scheduler = scheduler

    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        self._scheduler.call_later(0, fn, *args)

    def is_home(self) -> bool:
        return True


CAPABILITIES = Capabilities(
    is_green=False,
    signal_safe=False,
    can_interrupt=_set_async_exc is not None,
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
