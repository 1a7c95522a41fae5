"""The Engine primitives on eventlet's hub.

The core calls ``event.set``, ``semaphore.release``, ``queue.put``,
``call_later``, ``cancel`` and ``interrupt`` while holding its state lock (a
real OS lock): none of them switches green threads. Each only schedules a hub
callback that wakes or interrupts a green thread later, and that callback
decides at the moment it runs, so a green thread that left a wait in between
is never switched into by mistake.

Hub callbacks go on the hub's own timer heap, as ``schedule_call_global``
puts them, but as a :class:`HubCall`: one slotted object instead of eventlet's
``Timer`` with its instance dict, callback tuple and kwargs dict. With many
timers alive, fewer objects means less garbage-collector work, which is most
of a timer's cost and of its lateness.

Every primitive here is for the green threads of one OS thread (one hub).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from eventlet import hubs, patcher
from eventlet.greenthread import sleep
from greenlet import getcurrent, greenlet

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

logger = logging.getLogger("greenabc")

#: Passed by the hand-off switch of a semaphore, so a waiter can tell it from
#: the switch of its own timeout timer.
_GRANTED = object()

get_hub = hubs.get_hub


def _spent(*args: Any) -> None:
    """Stands in for a call's callback once it has run or been cancelled."""


class HubCall:
    """One call on the hub's timer heap (the protocol of eventlet's ``Timer``:
    ``seconds``, ``called``, ``__call__``, ``cancel``). Runs in the hub."""

    __slots__ = ("args", "called", "fn", "seconds")

    def __init__(self, seconds: float, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.seconds = seconds
        self.fn = fn
        self.args = args
        self.called = False

    def __call__(self) -> None:
        if not self.called:
            self.called = True
            fn, args = self.fn, self.args
            # A spent call may sit in the heap a while: hold nothing alive.
            self.fn, self.args = _spent, ()
            fn(*args)

    def cancel(self) -> None:
        if not self.called:
            self.called = True
            self.fn, self.args = _spent, ()
            get_hub().timer_canceled(self)  # lets the hub compact its heap

    def __lt__(self, other: HubCall) -> bool:  # heap ties between equal deadlines
        return id(self) < id(other)


def schedule(hub: Any, seconds: float, fn: Callable[..., object], *args: Any) -> HubCall:
    """Call ``fn(*args)`` in *hub* after *seconds*; never switches."""
    call = HubCall(seconds, fn, args)
    hub.add_timer(call)
    return call


def _wait(hub: Any, timeout: float | None) -> object:
    """Park the calling green thread in the hub until something switches
    into it, or for at most *timeout* seconds; returns the switch's value."""
    if timeout is None:
        return hub.switch()
    timer = schedule(hub, timeout, getcurrent().switch)
    try:
        return hub.switch()
    finally:
        timer.cancel()


class GreenEvent:
    """A settable flag: ``set`` never switches; ``wait(timeout)`` -> bool.

    Unlike ``eventlet.event.Event`` (one-shot, ``send``/``wait``), this is
    ``threading.Event``'s API, which is what the core expects.
    """

    __slots__ = ("_flag", "_notify", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: list[greenlet] = []
        self._notify: HubCall | None = None

    def is_set(self) -> bool:
        return self._flag

    def clear(self) -> None:
        self._flag = False

    def set(self) -> None:
        self._flag = True
        if self._waiters and self._notify is None:
            self._notify = schedule(get_hub(), 0, self._wake)

    def _wake(self) -> None:
        self._notify = None
        waiters = self._waiters
        while waiters:
            waiters.pop().switch()

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag or (timeout is not None and timeout <= 0):
            return self._flag
        me = getcurrent()
        self._waiters.append(me)
        try:
            _wait(get_hub(), timeout)
        finally:
            if me in self._waiters:
                self._waiters.remove(me)
        return self._flag


class GreenSemaphore:
    """A counting semaphore: ``release`` never switches; waiters are served
    first in, first out, each handed its unit directly."""

    __slots__ = ("_handoff", "_waiters", "counter")

    def __init__(self, value: int) -> None:
        self.counter = value
        self._waiters: deque[greenlet] = deque()
        self._handoff: HubCall | None = None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if self.counter > 0 and not self._waiters:
            self.counter -= 1
            return True
        if not blocking or (timeout is not None and timeout <= 0):
            return False
        me = getcurrent()
        self._waiters.append(me)
        try:
            granted = _wait(get_hub(), timeout) is _GRANTED
        except BaseException:  # interrupted while parked: still listed
            self._waiters.remove(me)
            raise
        if not granted:  # timed out: still listed
            self._waiters.remove(me)
        return granted

    def release(self) -> None:
        self.counter += 1
        if self._waiters and self._handoff is None:
            self._handoff = schedule(get_hub(), 0, self._hand_off)

    def _hand_off(self) -> None:
        self._handoff = None
        waiters = self._waiters
        while self.counter > 0 and waiters:
            self.counter -= 1
            waiters.popleft().switch(_GRANTED)


class GreenQueue:
    """An unbounded FIFO: ``put`` never blocks or switches; ``get`` parks
    the calling green thread until an item is there."""

    __slots__ = ("_getters", "_items", "_unlock")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._getters: deque[greenlet] = deque()
        self._unlock: HubCall | None = None

    def put(self, item: Any) -> None:
        self._items.append(item)
        if self._getters and self._unlock is None:
            self._unlock = schedule(get_hub(), 0, self._wake)

    def _wake(self) -> None:
        self._unlock = None
        items, getters = self._items, self._getters
        while items and getters:
            getters.popleft().switch()

    def get(self) -> Any:
        items = self._items
        while not items:
            me = getcurrent()
            self._getters.append(me)
            try:
                get_hub().switch()
            except BaseException:  # interrupted while parked: still listed
                self._getters.remove(me)
                raise
        return items.popleft()


def _deliver(handle: greenlet, exc_type: type[BaseException], guard: Callable[[], bool]) -> None:
    if guard() and not handle.dead:
        handle.throw(exc_type)


class EventletEngine(GreenEngineBase):
    """The Engine (see ``greenabc.interfaces.Engine``) on eventlet."""

    protocol_version = 3

    def __init__(self) -> None:
        # The unpatched allocator, whether or not eventlet has patched yet.
        self._allocate_lock = patcher.original("_thread").allocate_lock

    def spawn(self, fn: Callable[[], object]) -> greenlet:
        hub = get_hub()
        g = greenlet(fn, hub.greenlet)
        schedule(hub, 0, g.switch)
        return g

    def current(self) -> greenlet:
        return getcurrent()

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None:
        # Never switch here: the core holds its lock. The guard is checked
        # when the hub delivers, so a late interrupt reaches nothing.
        schedule(get_hub(), 0, _deliver, handle, exc_type, guard)

    def sleep(self, seconds: float) -> None:
        sleep(seconds)

    def core_event(self) -> SyncEvent:
        return GreenEvent()

    def core_lock(self) -> SyncLock:
        # Never held across a switch, so a real lock is safe and cheapest.
        lock: SyncLock = self._allocate_lock()
        return lock

    def core_semaphore(self, value: int) -> CoreSemaphore:
        return GreenSemaphore(value)

    def core_queue(self) -> CoreQueue:
        return GreenQueue()

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Cancellable:
        call = HubCall(delay, fn, args)
        get_hub().add_timer(call)
        return call

    monotonic = staticmethod(time.monotonic)

    # What only the engine can do, and eventlet's own primitives where they
    # already have the standard library's semantics (Lock, Semaphore,
    # BoundedSemaphore, Queue, local). Event, RLock and Condition are
    # GreenEngineBase's, derived from the core_* primitives above (eventlet
    # has no threading.Event-like Event).

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in eventlet's tpool
        (``$EVENTLET_THREADPOOL_SIZE`` OS threads, default 20); only the
        calling green thread waits."""
        from eventlet import tpool

        return unboxed(tpool.execute(boxed, fn, *args, **kwargs))  # type: ignore[no-any-return]

    def portal(self) -> Portal:
        hub = get_hub()
        portal: EventletPortal | None = getattr(hub, "_greenabc_portal", None)
        if portal is None:
            portal = hub._greenabc_portal = EventletPortal(hub)
        return portal

    def wait_readable(self, fd: int, timeout: float | None) -> bool:
        try:
            hubs.trampoline(fd, read=True, timeout=timeout, timeout_exc=FdWaitTimedOut)
        except FdWaitTimedOut:
            return False
        return True

    def wait_writable(self, fd: int, timeout: float | None) -> bool:
        try:
            hubs.trampoline(fd, write=True, timeout=timeout, timeout_exc=FdWaitTimedOut)
        except FdWaitTimedOut:
            return False
        return True

    @staticmethod
    def Lock() -> SyncLock:  # noqa: N802
        from eventlet.lock import Lock

        lock: SyncLock = Lock()
        return lock

    @staticmethod
    def Semaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
        made: SyncSemaphore = _semaphore_classes()[0](value)
        return made

    @staticmethod
    def BoundedSemaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
        made: SyncSemaphore = _semaphore_classes()[1](value)
        return made

    @staticmethod
    def Queue(maxsize: int = 0) -> SyncQueue:  # noqa: N802
        from eventlet.queue import Queue

        # eventlet's maxsize 0 is a rendezvous channel; the stdlib's is unbounded.
        queue: SyncQueue = Queue(maxsize if maxsize > 0 else None)
        return queue

    @staticmethod
    def local() -> Any:
        from eventlet.corolocal import local

        return local()


T = TypeVar("T")


_SEMAPHORES: list[Any] = []


def _semaphore_classes() -> list[Any]:
    """eventlet's Semaphore and BoundedSemaphore with ``threading``'s
    ``release(n)`` (eventlet's takes a *blocking* flag it ignores)."""
    if not _SEMAPHORES:
        from eventlet import semaphore

        for base in (semaphore.Semaphore, semaphore.BoundedSemaphore):
            _SEMAPHORES.append(type(base.__name__, (base,), {"release": release_n(base.release)}))
    return _SEMAPHORES


def _ignore(*args: Any) -> None:
    pass


class EventletPortal:
    """Into one eventlet hub from any OS thread: calls go on a deque and a
    byte down a pipe wakes the hub, whose reader (a hub listener, like
    ``tpool``'s) runs them."""

    def __init__(self, hub: Any) -> None:
        os = patcher.original("os")
        self._hub = hub
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._read = os.read
        self._write = os.write
        hub.add(hub.READ, self._read_fd, self._drain, _ignore, _ignore)

    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        self._calls.append((fn, args))  # deque.append is thread-safe
        with contextlib.suppress(BlockingIOError):  # full: a wake-up is pending anyway
            self._write(self._write_fd, b"\0")

    def is_home(self) -> bool:
        return getattr(hubs._threadlocal, "hub", None) is self._hub

    def _drain(self, fileno: int) -> None:
        # In the hub. Every call is appended before its byte is written, so
        # all calls whose bytes were read here are on the deque already.
        try:
            while self._read(fileno, 4096):
                pass
        except BlockingIOError:
            pass
        calls = self._calls
        while calls:
            fn, args = calls.popleft()
            try:
                fn(*args)
            except Exception:
                logger.exception("greenabc: a call from another thread (%r) raised", fn)
