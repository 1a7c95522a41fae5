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

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from eventlet import hubs, patcher
from eventlet.greenthread import sleep
from greenlet import getcurrent, greenlet

from greenabc.interfaces import Cancellable, EventLike, LockLike, QueueLike, SemaphoreLike

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


class EventletEngine:
    """The Engine primitives (see ``greenabc.interfaces.Engine``) on eventlet."""

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

    def event(self) -> EventLike:
        return GreenEvent()

    def lock(self) -> LockLike:
        # Never held across a switch, so a real lock is safe and cheapest.
        lock: LockLike = self._allocate_lock()
        return lock

    def semaphore(self, value: int) -> SemaphoreLike:
        return GreenSemaphore(value)

    def queue(self) -> QueueLike:
        return GreenQueue()

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Cancellable:
        call = HubCall(delay, fn, args)
        get_hub().add_timer(call)
        return call

    monotonic = staticmethod(time.monotonic)
