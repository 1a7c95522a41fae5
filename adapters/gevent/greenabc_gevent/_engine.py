"""The Engine primitives on gevent: greenlets, the hub's loop timers and
callbacks, gevent's Event, Semaphore and Queue.

The core calls ``event.set``, ``semaphore.release``, ``queue.put``,
``call_later``, ``cancel`` and ``interrupt`` while holding its state lock, so
none of them may switch greenlets: each only schedules work for the hub.
Nothing here touches the hub at import or construction time (``greenabc.patch``
builds the backend before it patches).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from gevent import monkey
from gevent._hub_local import get_hub_if_exists
from gevent.event import Event
from gevent.hub import get_hub
from gevent.local import local
from gevent.lock import BoundedSemaphore, RLock, Semaphore
from gevent.queue import JoinableQueue, UnboundQueue
from gevent.socket import wait_read, wait_write
from gevent.thread import LockType
from greenlet import getcurrent

from greenabc.adapter import FdWaitTimedOut, GreenEngineBase, boxed, release_n, unboxed
from greenabc.interfaces import (
    Cancellable,
    CoreQueue,
    CoreSemaphore,
    Portal,
    SyncEvent,
    SyncLock,
    SyncQueue,
    SyncSemaphore,
)


def _deliver(handle: Any, exc_type: type[BaseException], guard: Callable[[], bool]) -> None:
    # Runs in the hub, where no greenlet holds the core's lock (it is never
    # held across a switch), so checking the guard and throwing is atomic.
    if guard() and not handle.dead:
        handle.throw(exc_type)


def _hub_timer_class(loop: Any) -> type[Any]:
    """The loop's own timer watcher with ``cancel`` (= ``stop``): the handle
    ``call_later`` returns is the watcher itself, with no wrapper to allocate."""
    probe = loop.timer(0.0)
    base = type(probe)
    probe.close()
    return type("HubTimer", (base,), {"__slots__": (), "cancel": base.stop})


class GeventEngine(GreenEngineBase):
    """The Engine on gevent (see ``greenabc.interfaces.Engine``)."""

    protocol_version = 3

    def __init__(self) -> None:
        # The core's state lock is never held across a switch, so a real OS
        # lock is safe and cheapest; get_original finds it even once patched.
        self._allocate_lock: Callable[[], SyncLock] = monkey.get_original(
            "_thread", "allocate_lock"
        )
        self._timer_class: type[Any] | None = None

    def spawn(self, fn: Callable[[], object]) -> object:
        # A raw greenlet (the core catches and reports everything its workers
        # raise): a gevent.Greenlet keeps ~1 KiB more of C stack per idle
        # worker, which is 10 % of the memory of 10k sleeping tasks.
        return gevent.spawn_raw(fn)

    # Hot in the core (every task, scope and timer entry): bound straight to
    # the C functions, with no Python frame in between.
    current = staticmethod(getcurrent)
    monotonic = staticmethod(time.monotonic)

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None:
        # Never throw from here: the caller holds the core's lock, and the
        # target would run (and want that lock) before we return.
        get_hub().loop.run_callback(_deliver, handle, exc_type, guard)

    def sleep(self, seconds: float) -> None:
        gevent.sleep(seconds)

    def core_event(self) -> SyncEvent:
        event: SyncEvent = Event()
        return event

    def core_lock(self) -> SyncLock:
        return self._allocate_lock()

    def core_semaphore(self, value: int) -> CoreSemaphore:
        semaphore: CoreSemaphore = Semaphore(value)
        return semaphore

    def core_queue(self) -> CoreQueue:
        queue: CoreQueue = UnboundQueue()
        return queue

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Cancellable:
        """Call ``fn(*args)`` from a hub loop timer after *delay* seconds.

        *fn* runs in the hub: it must not block (spawn a greenlet for that)."""
        loop = get_hub().loop
        cls = self._timer_class
        if cls is None:
            cls = self._timer_class = _hub_timer_class(loop)
        timer = cls(loop, delay)
        # libev's clock is cached per loop iteration: without the update a
        # timer started late in a busy iteration fires early, by as long as
        # the iteration has run. (start(..., update=True) does the same, but
        # keyword arguments cost more than this call.)
        loop.update_now()
        timer.start(fn, *args)
        handle: Cancellable = timer
        return handle

    # What only the engine can do, and gevent's own primitives where they
    # already have the standard library's semantics (the C-accelerated Event,
    # Queue, local; GreenEngineBase derives Condition).

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the hub's threadpool
        (``gevent.get_hub().threadpool``, at most its ``maxsize`` OS
        threads); only the caller waits."""
        outcome = get_hub().threadpool.apply(boxed, (fn, *args), kwargs)
        return unboxed(outcome)  # type: ignore[no-any-return]

    def portal(self) -> Portal:
        return GeventPortal(get_hub())

    def wait_readable(self, fd: int, timeout: float | None) -> bool:
        try:
            wait_read(fd, timeout, FdWaitTimedOut)
        except FdWaitTimedOut:
            return False
        return True

    def wait_writable(self, fd: int, timeout: float | None) -> bool:
        try:
            wait_write(fd, timeout, FdWaitTimedOut)
        except FdWaitTimedOut:
            return False
        return True

    Event = Event
    Lock = LockType
    local = local

    @staticmethod
    def RLock() -> SyncLock:  # noqa: N802
        return _RLock()

    @staticmethod
    def Semaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        return _Semaphore(value)

    @staticmethod
    def BoundedSemaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        return _BoundedSemaphore(value)

    @staticmethod
    def Queue(maxsize: int = 0) -> SyncQueue:  # noqa: N802
        # gevent.queue.Queue has task_done/join; its maxsize 0 would warn.
        queue: SyncQueue = JoinableQueue(maxsize if maxsize > 0 else None)
        return queue


T = TypeVar("T")


class GeventPortal:
    """Into one hub from any OS thread: ``loop.run_callback_threadsafe``."""

    __slots__ = ("_call", "_hub")

    def __init__(self, hub: Any) -> None:
        self._hub = hub
        self._call = hub.loop.run_callback_threadsafe

    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        self._call(fn, *args)

    def is_home(self) -> bool:
        return get_hub_if_exists() is self._hub


class _RLock(RLock):  # type: ignore[misc]
    """gevent's RLock with ``threading.RLock``'s ``timeout=-1`` (no limit)."""

    __slots__ = ()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(RLock.acquire(self, blocking, None if timeout == -1 else timeout))


class _Semaphore(Semaphore):  # type: ignore[misc]
    """gevent's Semaphore with ``threading.Semaphore.release(n)``."""

    __slots__ = ()
    release = release_n(Semaphore.release)


class _BoundedSemaphore(BoundedSemaphore):  # type: ignore[misc]
    """gevent's BoundedSemaphore (over-release: ``ValueError``) with
    ``release(n)``."""

    __slots__ = ()
    release = release_n(BoundedSemaphore.release)
