"""The Backend's primitives for library authors (``EngineBackend`` mixes
this in): ``sleep``, ``Event`` ... ``local`` with the standard library's names
and semantics, ``to_thread``, ``from_thread`` and the fd waits, each the
engine's own (``greenabc.interfaces.Engine``), plus the one thing the core
adds: remembering the engine thread a foreign OS thread's ``from_thread``
goes home to.
"""

from __future__ import annotations

import _thread
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..interfaces import (
    Engine,
    FileDescriptorLike,
    Portal,
    SyncCondition,
    SyncEvent,
    SyncLock,
    SyncQueue,
    SyncSemaphore,
)
from ._exceptions import GreenabcError
from ._fd import fileno
from ._validate import check_optional_seconds

if TYPE_CHECKING:
    from ..interfaces import Patcher

T = TypeVar("T")


class _Worker(threading.local):
    """Per OS thread: (backend, portal of the engine thread that called
    ``to_thread``), set in its worker while the call runs (so ``from_thread``
    goes home); None elsewhere (a class default: no failed look-up to pay)."""

    portal: tuple[PrimitivesMixin, Portal] | None = None


_worker = _Worker()


class PrimitivesMixin:
    """The library authors' members of ``EngineBackend``."""

    # Set by EngineBackend.__init__ before _init_primitives().
    name: str
    engine: Engine
    patcher: Patcher | None

    _home: Portal | None
    _os_lock: Callable[[], Any]

    def _init_primitives(self) -> None:
        self._home = self.engine.any_thread_portal()  # else: the first engine thread's
        # An OS lock for a foreign thread to wait on, unpatched whatever the
        # order of imports was.
        lock_factory: Callable[[], Any] = _thread.allocate_lock
        if self.patcher is not None:
            with contextlib.suppress(Exception):  # a patcher that does not know it
                lock_factory = self.patcher.original("_thread", "allocate_lock")
        self._os_lock = lock_factory

    # -- the factories (stdlib names) ----------------------------------------

    def sleep(self, seconds: float) -> None:
        if self._home is None:
            self._arm()
        self.engine.sleep(seconds)

    def Event(self) -> SyncEvent:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.Event()

    def Lock(self) -> SyncLock:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.Lock()

    def RLock(self) -> SyncLock:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.RLock()

    def Semaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.Semaphore(value)

    def BoundedSemaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.BoundedSemaphore(value)

    def Condition(self, lock: SyncLock | None = None) -> SyncCondition:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.Condition(lock)

    def Queue(self, maxsize: int = 0) -> SyncQueue:  # noqa: N802
        if self._home is None:
            self._arm()
        return self.engine.Queue(maxsize)

    def local(self) -> Any:
        if self._home is None:
            self._arm()
        return self.engine.local()

    # -- crossing between the engine and OS threads ---------------------------

    def _arm(self) -> None:
        """Remember the first engine thread that uses this backend as its
        home: where ``from_thread`` runs calls from foreign OS threads."""
        if _worker.portal is not None:
            return  # a to_thread worker is no engine thread
        self._home = self.engine.portal()

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._home is None:
            self._arm()
        home = self._home
        if home is not None and home.is_home():
            # Called in the home engine thread (never a to_thread worker),
            # where the worker's from_thread goes anyway: nothing to tell the
            # worker (the common case).
            if args or kwargs:
                return self.engine.to_thread(fn, *args, **kwargs)
            return self.engine.to_thread(fn)  # no star-call: a third of the cost
        portal = self.engine.portal() if _worker.portal is None else None

        def run() -> T:
            outer = _worker.portal
            _worker.portal = (self, portal) if portal is not None else outer
            try:
                return fn(*args, **kwargs)
            finally:
                _worker.portal = outer

        return self.engine.to_thread(run)

    def from_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        mine = _worker.portal
        portal = mine[1] if mine is not None and mine[0] is self else self._home
        if portal is None:
            raise GreenabcError(
                f"from_thread: no engine thread of the {self.name!r} backend is known yet;"
                " call it from a thread started by to_thread, or after the engine thread"
                " has used the backend (greenabc.sleep, an Event, a Queue...)"
            )
        if portal.is_home():
            return fn(*args, **kwargs)  # already in the engine
        done = self._os_lock()
        done.acquire()
        outcome: list[Any] = []

        def call() -> None:
            try:
                outcome.append((True, fn(*args, **kwargs)))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                done.release()

        portal.call_soon(self.engine.spawn, call)
        done.acquire()
        ok, value = outcome[0]
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def wait_readable(self, fd: FileDescriptorLike, timeout: float | None = None) -> bool:
        number = fileno(fd)
        seconds = check_optional_seconds(timeout, "timeout")
        if self._home is None:
            self._arm()
        return self.engine.wait_readable(number, seconds)

    def wait_writable(self, fd: FileDescriptorLike, timeout: float | None = None) -> bool:
        number = fileno(fd)
        seconds = check_optional_seconds(timeout, "timeout")
        if self._home is None:
            self._arm()
        return self.engine.wait_writable(number, seconds)
