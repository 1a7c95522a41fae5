"""The primitives for library authors, written once over an Engine.

``greenabc.Event()``, ``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``,
``Condition``, ``Queue`` and ``local`` follow the standard library's names and
semantics. The core derives each from the protocol-1 primitives every engine
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
import queue as _queue_module
import select
import threading
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..interfaces import (
    ENGINE_V2_METHODS,
    SUPPORTED_PROTOCOL_VERSIONS,
    EngineV1,
    EventLike,
    FileDescriptorLike,
    Portal,
    SemaphoreLike,
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

T = TypeVar("T")

#: The standard library's exceptions, which every Queue raises.
Full = _queue_module.Full
Empty = _queue_module.Empty

#: Names an engine may supply natively (see the module docstring).
NATIVE_NAMES = (
    "Event",
    "Lock",
    "RLock",
    "Semaphore",
    "BoundedSemaphore",
    "Condition",
    "Queue",
    "local",
)


# --------------------------------------------------------------------------
# Derived primitives: the standard library's semantics over Engine v1.


class CoreEvent:
    """``threading.Event`` over an engine: a flag, and one engine event per
    waiter (set under the engine's state lock, which never switches)."""

    __slots__ = ("_engine", "_flag", "_lock", "_waiters")

    def __init__(self, engine: EngineV1) -> None:
        self._engine = engine
        self._lock = engine.lock()
        self._flag = False
        self._waiters: list[EventLike] = []

    def __repr__(self) -> str:
        return f"<greenabc Event {'set' if self._flag else 'unset'}>"

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._lock:
            self._flag = True
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.set()

    def clear(self) -> None:
        with self._lock:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        with self._lock:
            if self._flag:
                return True
            waiter = self._engine.event()
            self._waiters.append(waiter)
        try:
            woken = waiter.wait(timeout)
        finally:
            with self._lock:
                woken = waiter.is_set()
                if not woken and waiter in self._waiters:
                    self._waiters.remove(waiter)
        return woken or self._flag


def _lock_timeout(blocking: bool, timeout: float) -> float | None:
    """``threading.Lock.acquire``'s argument rules; the timeout to pass on."""
    if not blocking:
        if timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        return None
    if timeout == -1:
        return None
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    return timeout


class CoreLock:
    """``threading.Lock`` over the engine's semaphore."""

    __slots__ = ("_locked", "_sem")

    def __init__(self, engine: EngineV1) -> None:
        self._sem: SemaphoreLike = engine.semaphore(1)
        self._locked = False

    def __repr__(self) -> str:
        return f"<greenabc Lock {'locked' if self._locked else 'unlocked'}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        seconds = _lock_timeout(blocking, timeout)
        if self._sem.acquire(blocking, seconds):
            self._locked = True
            return True
        return False

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        self._sem.release()

    def locked(self) -> bool:
        return self._locked

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.release()


class CoreRLock:
    """``threading.RLock``: reentrant for its owner (``engine.current()``);
    released by anyone else, ``RuntimeError``."""

    __slots__ = ("_block", "_count", "_engine", "_owner")

    def __init__(self, engine: EngineV1) -> None:
        self._engine = engine
        self._block = CoreLock(engine)
        self._owner: object = None
        self._count = 0

    def __repr__(self) -> str:
        return f"<greenabc RLock owner={self._owner!r} count={self._count}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = self._engine.current()
        if self._count and self._owner == me:
            self._count += 1
            return True
        if self._block.acquire(blocking, timeout):
            self._owner = me
            self._count = 1
            return True
        return False

    def release(self) -> None:
        if not self._count or self._owner != self._engine.current():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._owner = None
            self._block.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.release()

    # For Condition: give the lock up entirely while waiting, then restore.
    def _is_owned(self) -> bool:
        return bool(self._count) and self._owner == self._engine.current()

    def _release_save(self) -> tuple[int, object]:
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._block.release()
        return state

    def _acquire_restore(self, state: tuple[int, object]) -> None:
        self._block.acquire()
        self._count, self._owner = state


class CoreSemaphore:
    """``threading.Semaphore`` over the engine's semaphore."""

    __slots__ = ("_sem",)

    def __init__(self, engine: EngineV1, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._sem: SemaphoreLike = engine.semaphore(value)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        return self._sem.acquire(blocking, timeout)

    def release(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError("n must be one or more")
        for _ in range(n):
            self._sem.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.release()


class CoreBoundedSemaphore(CoreSemaphore):
    """``threading.BoundedSemaphore``: releasing above the initial value
    raises ``ValueError``."""

    __slots__ = ("_initial", "_lock", "_value")

    def __init__(self, engine: EngineV1, value: int = 1) -> None:
        super().__init__(engine, value)
        self._lock = engine.lock()
        self._initial = self._value = value

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if super().acquire(blocking, timeout):
            with self._lock:
                self._value -= 1
            return True
        return False

    def release(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError("n must be one or more")
        with self._lock:
            # _value may lag an acquire in progress (too high, never too
            # low), so a legitimate release never trips this.
            if self._value + n > self._initial:
                raise ValueError("Semaphore released too many times")
            self._value += n
        for _ in range(n):
            self._sem.release()


class CoreCondition:
    """``threading.Condition`` over an engine (default lock: an RLock). Each
    waiter parks on an engine event; ``notify`` sets it under the lock, so a
    waiter that timed out can tell whether it was notified."""

    def __init__(self, engine: EngineV1, lock: SyncLock | None = None) -> None:
        self._engine = engine
        self._lock: SyncLock = CoreRLock(engine) if lock is None else lock
        self.acquire = self._lock.acquire
        self.release = self._lock.release
        self._waiters: deque[EventLike] = deque()
        for name in ("_is_owned", "_release_save", "_acquire_restore"):
            method = getattr(self._lock, name, None)
            if method is not None:
                setattr(self, name, method)

    def __repr__(self) -> str:
        return f"<greenabc Condition({self._lock!r}, {len(self._waiters)} waiting)>"

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self._lock.__exit__(exc_type, exc, tb)

    # Defaults for a plain lock (an RLock's own methods replace them).
    def _is_owned(self) -> bool:
        if self._lock.acquire(False):
            self._lock.release()
            return False
        return True

    def _release_save(self) -> Any:
        self._lock.release()
        return None

    def _acquire_restore(self, state: Any) -> None:
        self._lock.acquire()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = self._engine.event()
        self._waiters.append(waiter)
        saved = self._release_save()
        try:
            waiter.wait(timeout)
        finally:
            self._acquire_restore(saved)
            # notify() pops under the lock: listed still means not notified.
            notified = waiter not in self._waiters
            if not notified:
                self._waiters.remove(waiter)
        return notified

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        end = None
        waittime = timeout
        result = predicate()
        while not result:
            if waittime is not None:
                if end is None:
                    end = self._engine.monotonic() + waittime
                else:
                    waittime = end - self._engine.monotonic()
                    if waittime <= 0:
                        break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self._waiters
        while waiters and n > 0:
            waiters.popleft().set()
            n -= 1

    def notify_all(self) -> None:
        self.notify(len(self._waiters))


class CoreQueue:
    """``queue.Queue`` (FIFO, *maxsize* <= 0 means unbounded, ``task_done`` /
    ``join``) over the core's Lock and Condition; raises ``queue.Full`` and
    ``queue.Empty``."""

    def __init__(self, engine: EngineV1, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self.queue: deque[Any] = deque()
        self._monotonic = engine.monotonic
        self.mutex = CoreLock(engine)
        self.not_empty = CoreCondition(engine, self.mutex)
        self.not_full = CoreCondition(engine, self.mutex)
        self.all_tasks_done = CoreCondition(engine, self.mutex)
        self.unfinished_tasks = 0

    def __repr__(self) -> str:
        return f"<greenabc Queue maxsize={self.maxsize} qsize={len(self.queue)}>"

    def task_done(self) -> None:
        with self.all_tasks_done:
            unfinished = self.unfinished_tasks - 1
            if unfinished <= 0:
                if unfinished < 0:
                    raise ValueError("task_done() called too many times")
                self.all_tasks_done.notify_all()
            self.unfinished_tasks = unfinished

    def join(self) -> None:
        with self.all_tasks_done:
            while self.unfinished_tasks:
                self.all_tasks_done.wait()

    def qsize(self) -> int:
        return len(self.queue)

    def empty(self) -> bool:
        return not self.queue

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self.queue)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self.not_full:
            if self.maxsize > 0:
                if not block:
                    if len(self.queue) >= self.maxsize:
                        raise Full
                elif timeout is None:
                    while len(self.queue) >= self.maxsize:
                        self.not_full.wait()
                elif timeout < 0:
                    raise ValueError("'timeout' must be a non-negative number")
                else:
                    end = self._monotonic() + timeout
                    while len(self.queue) >= self.maxsize:
                        remaining = end - self._monotonic()
                        if remaining <= 0.0:
                            raise Full
                        self.not_full.wait(remaining)
            self.queue.append(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self.not_empty:
            if not block:
                if not self.queue:
                    raise Empty
            elif timeout is None:
                while not self.queue:
                    self.not_empty.wait()
            elif timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
            else:
                end = self._monotonic() + timeout
                while not self.queue:
                    remaining = end - self._monotonic()
                    if remaining <= 0.0:
                        raise Empty
                    self.not_empty.wait(remaining)
            item = self.queue.popleft()
            self.not_full.notify()
            return item

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get_nowait(self) -> Any:
        return self.get(block=False)


class CoreLocal:
    """Attributes per green thread, keyed by ``engine.current()``: weakly,
    so a finished green thread's values go with it."""

    def __init__(self, engine: EngineV1) -> None:
        dicts: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
        strong: dict[Any, dict[str, Any]] = {}  # handles that cannot be weakly referenced
        object.__setattr__(self, "_greenabc_local", (engine, dicts, strong))

    def _greenabc_dict(self) -> dict[str, Any]:
        engine, dicts, strong = object.__getattribute__(self, "_greenabc_local")
        key = engine.current()
        try:
            found = dicts.get(key)
            if found is None:
                found = dicts[key] = {}
        except TypeError:  # not weakly referenceable
            found = strong.setdefault(key, {})
        return found  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:  # only for names not found normally
        try:
            return self._greenabc_dict()[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._greenabc_dict()[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._greenabc_dict()[name]
        except KeyError:
            raise AttributeError(name) from None


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
