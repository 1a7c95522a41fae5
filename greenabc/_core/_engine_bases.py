"""Base classes for Engines (see ``greenabc.interfaces.Engine``): the members
that can have a default, so an adapter writes only what its engine alone can
do. Behaviour that differs between green and OS-thread engines lives here,
in the two subclasses, never in a test of ``Capabilities`` in the core.
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from ..interfaces import (
    Cancellable,
    CoreQueue,
    CoreSemaphore,
    Portal,
    SyncCondition,
    SyncEvent,
    SyncLock,
    SyncQueue,
    SyncSemaphore,
)
from ._async_interrupt import send_async_interrupt
from ._fd import POLL_READ, POLL_WRITE, poll_fd
from ._sync import (
    DerivedBoundedSemaphore,
    DerivedCondition,
    DerivedEvent,
    DerivedLocal,
    DerivedLock,
    DerivedQueue,
    DerivedRLock,
    DerivedSemaphore,
)
from ._thread_event import ThreadEvent
from ._thread_queue import ThreadQueue

T = TypeVar("T")


class _EngineBase(ABC):
    """Every member of the Engine protocol: abstract where only the engine
    can supply it; the standard library's primitives derived from the core's
    (``_sync``), correct on any engine."""

    #: Set it to the ``greenabc.interfaces.PROTOCOL_VERSION`` you wrote against.
    protocol_version: int

    @abstractmethod
    def spawn(self, fn: Callable[[], object]) -> object: ...

    @abstractmethod
    def current(self) -> object: ...

    @abstractmethod
    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None: ...

    @abstractmethod
    def checkpoint(self) -> None: ...

    @abstractmethod
    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Cancellable: ...

    @abstractmethod
    def sleep(self, seconds: float) -> None: ...

    @abstractmethod
    def monotonic(self) -> float: ...

    @abstractmethod
    def core_lock(self) -> SyncLock: ...

    @abstractmethod
    def core_event(self) -> SyncEvent: ...

    @abstractmethod
    def core_semaphore(self, value: int) -> CoreSemaphore: ...

    @abstractmethod
    def core_queue(self) -> CoreQueue: ...

    @abstractmethod
    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...

    @abstractmethod
    def portal(self) -> Portal: ...

    @abstractmethod
    def any_thread_portal(self) -> Portal | None: ...

    @abstractmethod
    def wait_readable(self, fd: int, timeout: float | None) -> bool: ...

    @abstractmethod
    def wait_writable(self, fd: int, timeout: float | None) -> bool: ...

    def Event(self) -> SyncEvent:  # noqa: N802 (the stdlib's names)
        return DerivedEvent(self)

    def Lock(self) -> SyncLock:  # noqa: N802
        return DerivedLock(self)

    def RLock(self) -> SyncLock:  # noqa: N802
        return DerivedRLock(self)

    def Semaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        return DerivedSemaphore(self, value)

    def BoundedSemaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        return DerivedBoundedSemaphore(self, value)

    def Condition(self, lock: SyncLock | None = None) -> SyncCondition:  # noqa: N802
        return DerivedCondition(self, lock)

    def Queue(self, maxsize: int = 0) -> SyncQueue:  # noqa: N802
        return DerivedQueue(self, maxsize)

    def local(self) -> Any:
        return DerivedLocal(self)


class GreenEngineBase(_EngineBase):
    """For an engine whose tasks are green threads of one OS thread (gevent,
    eventlet): supplies :meth:`checkpoint` (a no-op) and the standard
    library's primitives, derived from the ``core_*`` ones (override any with
    a native class of the same semantics, e.g. ``Event = gevent.event.Event``).
    The rest only the engine can do."""

    def checkpoint(self) -> None:
        """Nothing to do: an interrupt is thrown in at a switch, never left
        pending on a green thread."""

    def any_thread_portal(self) -> Portal | None:
        return None  # a foreign OS thread reaches the hub through its portal()


class OSThreadEngineBase(_EngineBase):
    """For an engine whose tasks are OS threads: everything but :meth:`spawn`
    (start a thread, return its ``threading.get_ident()``) and
    :meth:`call_later` (a scheduler). Interrupts are asynchronous exceptions
    (``greenabc.adapter.send_async_interrupt``, safe under a tracer on
    CPython 3.11); the primitives are the standard library's, looked up at
    call time."""

    def current(self) -> object:
        return threading.get_ident()

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None:
        if guard():
            send_async_interrupt(handle, exc_type)  # type: ignore[arg-type]

    def checkpoint(self) -> None:
        """Empty on purpose: CPython raises an asynchronous exception already
        sent to a thread on entry to a Python function, so calling this is
        the check."""

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()

    def core_lock(self) -> SyncLock:
        return threading.Lock()

    def core_event(self) -> SyncEvent:
        return ThreadEvent()

    def core_semaphore(self, value: int) -> CoreSemaphore:
        return threading.Semaphore(value)

    def core_queue(self) -> CoreQueue:
        return queue.SimpleQueue()

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        # The caller is an OS thread already: call in place, so blocking here
        # stalls nobody else and no extra threads are started.
        return fn(*args, **kwargs)

    def portal(self) -> Portal:
        return _EveryThreadPortal(self)

    def any_thread_portal(self) -> Portal | None:
        return _EveryThreadPortal(self)  # every OS thread is an engine thread

    def wait_readable(self, fd: int, timeout: float | None) -> bool:
        return poll_fd(fd, POLL_READ, timeout)

    def wait_writable(self, fd: int, timeout: float | None) -> bool:
        return poll_fd(fd, POLL_WRITE, timeout)

    def Event(self) -> SyncEvent:  # noqa: N802
        return ThreadEvent()

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
        return ThreadQueue(maxsize)  # queue.Queue, but an interrupt cannot split get/put

    def local(self) -> Any:
        return threading.local()


class _EveryThreadPortal:
    """Every OS thread is an engine thread: ``from_thread`` calls in place;
    ``call_soon`` goes to the engine's scheduler."""

    __slots__ = ("_engine",)

    def __init__(self, engine: _EngineBase) -> None:
        self._engine = engine

    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        self._engine.call_later(0, fn, *args)

    def is_home(self) -> bool:
        return True
