"""The primitives for library authors, written once over an Engine.

``greenabc.Event()``, ``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``,
``Condition``, ``Queue`` and ``local`` follow the standard library's names and
semantics. The core derives each (``_sync``) from the protocol-1 primitives every engine
has (a short-held state lock, a one-shot event, a semaphore, ``current()``,
``monotonic()``), so even a version-1 adapter gets them all. An engine may
supply a native one instead, as an attribute of the same name (gevent's
C-accelerated ``Event``, eventlet's ``Queue``, ``threading.Event``): the core
looks each name up once, when the backend is built, and uses it as is.

``to_thread``, ``from_thread``, ``wait_readable`` and ``wait_writable`` need
what only an engine can do (protocol version 2: ``Engine.to_thread``,
``Engine.portal``, ``Engine.wait_readable``/``wait_writable``). On a version-1
engine that is not green (its tasks are OS threads) the core supplies them
(call in place, ``select.poll``); on a version-1 green engine it cannot, and
says so with a ``GreenabcError`` naming the method to implement.
"""

from __future__ import annotations

import _thread
import contextlib
import select
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..interfaces import (
    ENGINE_V2_METHODS,
    SUPPORTED_PROTOCOL_VERSIONS,
    FileDescriptorLike,
    Portal,
    SyncCondition,
    SyncEvent,
    SyncLock,
    SyncQueue,
    SyncSemaphore,
)
from ._exceptions import GreenabcError
from ._registry import get_backend
from ._validate import check_optional_seconds

if TYPE_CHECKING:
    from ..interfaces import Backend, Capabilities, Patcher

from ._sync import (
    CoreBoundedSemaphore,
    CoreCondition,
    CoreEvent,
    CoreLocal,
    CoreLock,
    CoreQueue,
    CoreRLock,
    CoreSemaphore,
)

T = TypeVar("T")

# --------------------------------------------------------------------------
# The Backend side: EngineBackend mixes this in.

#: Per OS thread: the portal of the engine thread that called ``to_thread``,
#: set in its worker while the call runs (so ``from_thread`` goes home).
_worker = threading.local()


def _fileno(fd: FileDescriptorLike) -> int:
    if isinstance(fd, int) and not isinstance(fd, bool):
        if fd < 0:
            raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
        return fd
    fileno = getattr(fd, "fileno", None)
    if fileno is None:
        raise TypeError(f"expected a file descriptor or an object with fileno(), got {fd!r}")
    return _fileno(fileno())


def poll_fd(fd: int, events: int, timeout: float | None) -> bool:
    """Block the calling OS thread until *fd* has one of *events*."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, events)
        return bool(poller.poll(None if timeout is None else timeout * 1000))
    readable, writable, _ = select.select(  # pragma: no cover (no poll: Windows)
        [fd] if events & 1 else [], [fd] if events & 4 else [], [], timeout
    )
    return bool(readable or writable)


POLL_READ = getattr(select, "POLLIN", 1)
POLL_WRITE = getattr(select, "POLLOUT", 4)


def engine_version(engine: object, backend_name: str) -> int:
    """The protocol version *engine* implements; refuses an engine that
    declares a version it does not implement (or one this greenabc lacks)."""
    declared = getattr(engine, "protocol_version", None)
    missing = [m for m in ENGINE_V2_METHODS if not callable(getattr(engine, m, None))]
    what = f"the engine {type(engine).__qualname__} of backend {backend_name!r}"
    if declared is None:
        return 1 if missing else 2
    if declared not in SUPPORTED_PROTOCOL_VERSIONS:
        supported = ", ".join(map(str, sorted(SUPPORTED_PROTOCOL_VERSIONS)))
        raise GreenabcError(
            f"{what} declares protocol version {declared!r}; this greenabc supports"
            f" {supported}: upgrade whichever of the two is older"
        )
    if declared >= 2 and missing:
        raise GreenabcError(
            f"{what} declares protocol version {declared} but lacks"
            f" {', '.join(missing)}: implement them (see greenabc.interfaces.Engine)"
            " or declare protocol_version = 1"
        )
    return int(declared)


class PrimitivesMixin:
    """The protocol-2 members of ``EngineBackend``: every primitive, derived
    from the engine or taken from its native version."""

    # Set by EngineBackend.__init__ before _init_primitives().
    name: str
    engine: Any
    capabilities: Capabilities
    patcher: Patcher | None

    engine_protocol_version: int
    _home: Portal | None
    _os_lock: Callable[[], Any]
    _event: Callable[[], SyncEvent]
    _lock: Callable[[], SyncLock]
    _rlock: Callable[[], SyncLock]
    _semaphore: Callable[[int], SyncSemaphore]
    _bounded_semaphore: Callable[[int], SyncSemaphore]
    _condition: Callable[[SyncLock | None], SyncCondition]
    _queue: Callable[[int], SyncQueue]
    _local: Callable[[], Any]

    def _init_primitives(self) -> None:
        engine = self.engine
        self.engine_protocol_version = engine_version(engine, self.name)
        self._home = None
        green = self.capabilities.is_green

        def native(name: str, derived: Callable[..., Any]) -> Any:
            found = getattr(engine, name, None)
            return found if callable(found) else derived

        self._event = native("Event", lambda: CoreEvent(engine))
        self._lock = native("Lock", lambda: CoreLock(engine))
        self._rlock = native("RLock", lambda: CoreRLock(engine))
        self._semaphore = native("Semaphore", lambda value=1: CoreSemaphore(engine, value))
        self._bounded_semaphore = native(
            "BoundedSemaphore", lambda value=1: CoreBoundedSemaphore(engine, value)
        )
        self._condition = native("Condition", lambda lock=None: CoreCondition(engine, lock))
        self._queue = native("Queue", lambda maxsize=0: CoreQueue(engine, maxsize))
        # Not green: tasks are OS threads, so the OS thread's local is right.
        self._local = native("local", (lambda: CoreLocal(engine)) if green else threading.local)
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
        return self._event()

    def Lock(self) -> SyncLock:  # noqa: N802
        if self._home is None:
            self._arm()
        return self._lock()

    def RLock(self) -> SyncLock:  # noqa: N802
        if self._home is None:
            self._arm()
        return self._rlock()

    def Semaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        if self._home is None:
            self._arm()
        return self._semaphore(value)

    def BoundedSemaphore(self, value: int = 1) -> SyncSemaphore:  # noqa: N802
        if self._home is None:
            self._arm()
        return self._bounded_semaphore(value)

    def Condition(self, lock: SyncLock | None = None) -> SyncCondition:  # noqa: N802
        if self._home is None:
            self._arm()
        return self._condition(lock)

    def Queue(self, maxsize: int = 0) -> SyncQueue:  # noqa: N802
        if self._home is None:
            self._arm()
        return self._queue(maxsize)

    def local(self) -> Any:
        if self._home is None:
            self._arm()
        return self._local()

    # -- crossing between the engine and OS threads ---------------------------

    def _arm(self) -> None:
        """Remember the first engine thread that uses this backend as its
        home: where ``from_thread`` runs calls from foreign OS threads."""
        if not self.capabilities.is_green or not callable(getattr(self.engine, "portal", None)):
            self._home = _NO_PORTAL
            return
        if getattr(_worker, "portal", None) is not None:
            return  # a to_thread worker is no engine thread
        self._home = self.engine.portal()

    def _missing(self, method: str) -> GreenabcError:
        return GreenabcError(
            f"the {self.name!r} backend's engine ({type(self.engine).__qualname__}) implements"
            f" protocol version {self.engine_protocol_version}, and {method} cannot be"
            f" supplied safely on a green engine: the adapter must implement protocol 2's"
            f" Engine.{method} (see greenabc.interfaces.Engine)"
        )

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if not self.capabilities.is_green:
            # The caller is an OS thread already: call in place (no extra
            # threads, so the number of OS threads stays the caller's).
            return fn(*args, **kwargs)
        engine_to_thread = getattr(self.engine, "to_thread", None)
        if engine_to_thread is None:
            raise self._missing("to_thread")
        if self._home is None:
            self._arm()
        portal = self.engine.portal() if getattr(_worker, "portal", None) is None else None

        def run() -> T:
            outer = getattr(_worker, "portal", None)
            _worker.portal = (self, portal) if portal is not None else outer
            try:
                return fn(*args, **kwargs)
            finally:
                _worker.portal = outer

        return engine_to_thread(run)  # type: ignore[no-any-return]

    def from_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if not self.capabilities.is_green:
            return fn(*args, **kwargs)  # every OS thread is an engine thread
        if not callable(getattr(self.engine, "portal", None)):
            raise self._missing("portal")
        mine = getattr(_worker, "portal", None)
        portal = mine[1] if mine is not None and mine[0] is self else self._home
        if portal is None or portal is _NO_PORTAL:
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
        engine = self.engine

        def call() -> None:
            try:
                outcome.append((True, fn(*args, **kwargs)))
            except BaseException as exc:
                outcome.append((False, exc))
            finally:
                done.release()

        portal.call_soon(engine.spawn, call)
        done.acquire()
        ok, value = outcome[0]
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def wait_readable(self, fd: FileDescriptorLike, timeout: float | None = None) -> bool:
        return self._wait_fd("wait_readable", POLL_READ, fd, timeout)

    def wait_writable(self, fd: FileDescriptorLike, timeout: float | None = None) -> bool:
        return self._wait_fd("wait_writable", POLL_WRITE, fd, timeout)

    def _wait_fd(
        self, method: str, events: int, fd: FileDescriptorLike, timeout: float | None
    ) -> bool:
        fileno = _fileno(fd)
        seconds = check_optional_seconds(timeout, "timeout")
        wait = getattr(self.engine, method, None)
        if wait is None:
            if self.capabilities.is_green:
                raise self._missing(method)
            return poll_fd(fileno, events, seconds)
        if self._home is None:
            self._arm()
        return bool(wait(fileno, seconds))


class _NoPortal:
    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        raise AssertionError("unreachable")  # pragma: no cover

    def is_home(self) -> bool:
        return True  # pragma: no cover


#: Marks a backend armed without a portal (not green, or no portal method).
_NO_PORTAL: Portal = _NoPortal()


# --------------------------------------------------------------------------
# The module-level names: the default backend's.


def _no_v2(backend: Backend, name: str) -> GreenabcError:
    return GreenabcError(
        f"the {backend.name!r} backend implements protocol version"
        f" {backend.protocol_version}, which has no {name}: upgrade its adapter"
        " to protocol 2 (see greenabc.interfaces.Backend)"
    )


def _v2(backend: Backend, name: str) -> Any:
    member = getattr(backend, name, None)
    if member is None:
        raise _no_v2(backend, name)
    return member


def sleep(seconds: float) -> None:
    """Sleep *seconds* on the default backend (yielding to the engine)."""
    _v2(get_backend(), "sleep")(seconds)


def Event() -> SyncEvent:  # noqa: N802
    """A ``threading.Event`` of the default backend."""
    return _v2(get_backend(), "Event")()  # type: ignore[no-any-return]


def Lock() -> SyncLock:  # noqa: N802
    """A ``threading.Lock`` of the default backend."""
    return _v2(get_backend(), "Lock")()  # type: ignore[no-any-return]


def RLock() -> SyncLock:  # noqa: N802
    """A ``threading.RLock`` of the default backend."""
    return _v2(get_backend(), "RLock")()  # type: ignore[no-any-return]


def Semaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
    """A ``threading.Semaphore`` of the default backend."""
    return _v2(get_backend(), "Semaphore")(value)  # type: ignore[no-any-return]


def BoundedSemaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
    """A ``threading.BoundedSemaphore`` of the default backend."""
    return _v2(get_backend(), "BoundedSemaphore")(value)  # type: ignore[no-any-return]


def Condition(lock: SyncLock | None = None) -> SyncCondition:  # noqa: N802
    """A ``threading.Condition`` of the default backend."""
    return _v2(get_backend(), "Condition")(lock)  # type: ignore[no-any-return]


def Queue(maxsize: int = 0) -> SyncQueue:  # noqa: N802
    """A ``queue.Queue`` of the default backend (raises ``queue.Full`` /
    ``queue.Empty``)."""
    return _v2(get_backend(), "Queue")(maxsize)  # type: ignore[no-any-return]


def local() -> Any:
    """A ``threading.local`` of the default backend: attributes per green
    thread (or thread)."""
    return _v2(get_backend(), "local")()


def to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in an OS thread (a bounded pool) and return
    its result, without stalling the engine."""
    return _v2(get_backend(), "to_thread")(fn, *args, **kwargs)  # type: ignore[no-any-return]


def from_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """From an OS thread outside the engine: run ``fn(*args, **kwargs)`` in
    the engine and return its result."""
    return _v2(get_backend(), "from_thread")(fn, *args, **kwargs)  # type: ignore[no-any-return]


def wait_readable(fd: FileDescriptorLike, timeout: float | None = None) -> bool:
    """Wait until *fd* is readable: True, or False once *timeout* passes."""
    return bool(_v2(get_backend(), "wait_readable")(fd, timeout))


def wait_writable(fd: FileDescriptorLike, timeout: float | None = None) -> bool:
    """Wait until *fd* is writable: True, or False once *timeout* passes."""
    return bool(_v2(get_backend(), "wait_writable")(fd, timeout))


# --------------------------------------------------------------------------
# For adapters: carrying an OS-thread call's outcome back to the engine.


def boxed(fn: Callable[[], T]) -> tuple[bool, Any]:
    """Call *fn* in an OS-thread pool's worker and box its outcome: any
    ``BaseException`` is carried back (a pool would let ``SystemExit`` or an
    interrupt kill its worker and strand the caller). See :func:`unboxed`."""
    try:
        return True, fn()
    except BaseException as exc:
        return False, exc


def unboxed(outcome: tuple[bool, Any]) -> Any:
    """The value :func:`boxed` carried back, or its exception raised."""
    if outcome[0]:
        return outcome[1]
    raise outcome[1]


class FdWaitTimedOut(Exception):
    """For an adapter's fd wait to raise on timeout and catch (never escapes)."""
