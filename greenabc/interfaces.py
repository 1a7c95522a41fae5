"""The typed interfaces of greenabc.

Two audiences read this module:

* users of a backend see :class:`Backend`, :class:`Pool`, :class:`Task`,
  :class:`Timer`, :class:`TimerEntry`, :class:`TimeoutScope` and
  :class:`Patcher`;
* adapter authors implement :class:`Engine`, the few primitives only an engine
  can supply, and wrap it in :class:`greenabc.adapter.EngineBackend`, which
  builds the Pool, Timer and Timeout semantics on top of it.

An adapter declares the :data:`PROTOCOL_VERSION` it was written against; the
registry refuses any other version when it loads the backend, with an error
that names the distribution to upgrade.

A method an engine supplies whose result greenabc ignores is typed
``-> object``: an engine may hand over a native primitive whose method
returns something (gevent's ``Semaphore.release()`` returns the count), and
the compiled core, which checks every declared ``None`` it receives, must
not fail on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar, Union, runtime_checkable

from typing_extensions import Self

__all__ = [
    "BACKEND_MEMBERS",
    "ENGINE_MEMBERS",
    "PROTOCOL_VERSION",
    "Backend",
    "Cancellable",
    "Capabilities",
    "CoreQueue",
    "CoreSemaphore",
    "Engine",
    "FileDescriptorLike",
    "Patcher",
    "Pool",
    "Portal",
    "SyncCondition",
    "SyncEvent",
    "SyncLock",
    "SyncPrimitives",
    "SyncQueue",
    "SyncSemaphore",
    "Task",
    "TimeoutScope",
    "Timer",
    "TimerEntry",
]

#: The version of the adapter protocol (:class:`Backend` and :class:`Engine`
#: together). An adapter sets ``protocol_version`` on its Engine (or, for a
#: Backend not built on ``EngineBackend``, on the Backend) to the version it
#: was written against; the registry refuses any other when it loads the
#: backend, naming the distribution to upgrade. One integer: while greenabc
#: is 0.x, a change of shape bumps it and drops the old one.
PROTOCOL_VERSION = 3

#: The primitives a Backend offers and an Engine supplies, by name.
_PRIMITIVE_MEMBERS = frozenset(
    {
        "sleep",
        "Event",
        "Lock",
        "RLock",
        "Semaphore",
        "BoundedSemaphore",
        "Condition",
        "Queue",
        "local",
        "to_thread",
        "wait_readable",
        "wait_writable",
    }
)

#: What a Backend must have, by member name (checked when it loads).
BACKEND_MEMBERS = _PRIMITIVE_MEMBERS | {
    "name",
    "protocol_version",
    "capabilities",
    "patcher",
    "create_pool",
    "spawn",
    "create_timer",
    "timeout",
    "detect_blocking",
    "from_thread",
}

#: What an Engine must have, by member name (checked when its backend loads).
ENGINE_MEMBERS = _PRIMITIVE_MEMBERS | {
    "protocol_version",
    "spawn",
    "current",
    "interrupt",
    "checkpoint",
    "call_later",
    "monotonic",
    "core_lock",
    "core_event",
    "core_semaphore",
    "core_queue",
    "portal",
    "any_thread_portal",
}

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, stated as data so callers ask instead of guessing."""

    #: Tasks run as green threads of one OS thread (gevent, eventlet).
    is_green: bool
    #: Signal handlers may call into the pool (spawn, kill) safely.
    signal_safe: bool
    #: A running task can be interrupted (kill, hard timeout, soft timeout).
    can_interrupt: bool
    #: A task waiting in a blocking call of the standard library (socket I/O,
    #: sleep, a lock) is interrupted at once, not when the call returns: True
    #: on green engines, where such calls wait in the hub; False on threads,
    #: where they wait in C.
    can_interrupt_blocking_calls: bool
    #: ``greenabc.detect_blocking`` is supported.
    can_detect_blocking: bool
    #: The backend can monkey-patch the standard library.
    can_patch: bool
    #: Free-form notes on limits, shown by ``python -m greenabc check``.
    notes: tuple[str, ...] = ()
    #: ``greenabc.aio`` (the asyncio bridge) runs on this backend; False: its
    #: calls raise ``GreenabcError`` at once and the kit skips its aio tests.
    #: It needs a backend built on ``greenabc.adapter`` (an engine and a portal).
    can_bridge_asyncio: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "is_green": self.is_green,
            "signal_safe": self.signal_safe,
            "can_interrupt": self.can_interrupt,
            "can_interrupt_blocking_calls": self.can_interrupt_blocking_calls,
            "can_detect_blocking": self.can_detect_blocking,
            "can_patch": self.can_patch,
            "notes": list(self.notes),
            "can_bridge_asyncio": self.can_bridge_asyncio,
        }


# --------------------------------------------------------------------------
# What users of a backend see.


@runtime_checkable
class Task(Protocol[T_co]):
    """A handle on one accepted unit of work."""

    @property
    def id(self) -> int: ...

    def get(self, timeout: float | None = None) -> T_co:
        """The result; re-raises the task's exception, ``TaskKilled`` or
        ``TaskTimedOut``; ``TimeoutExpired`` if not ready within *timeout*."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the task's outcome is known; True if it is."""
        ...

    def ready(self) -> bool:
        """True once the outcome is decided (final from then on)."""
        ...

    def successful(self) -> bool: ...

    @property
    def outcome(self) -> str | None:
        """``"success"``, ``"failure"``, ``"timed out"``, ``"killed"``, or None
        while undecided."""
        ...

    def kill(
        self, block: bool = True, timeout: float | None = None, *, reason: str | None = None
    ) -> bool:
        """Report the task killed and interrupt it; with *block*, wait up to
        *timeout* for it to stop. True if it has stopped."""
        ...

    def add_done_callback(self, fn: Callable[[Task[T_co]], object]) -> None: ...


@runtime_checkable
class Pool(Protocol):
    """A bounded set of concurrent workers with one set of semantics."""

    @property
    def size(self) -> int: ...

    #: Seconds ``with pool:`` waits for running tasks when its body raised,
    #: before it kills them.
    grace: float | None

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called: no more work is accepted."""
        ...

    def spawn(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Task[T]: ...

    def apply_async(
        self,
        fn: Callable[..., T],
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        callback: Callable[[T], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        accept_callback: Callable[[Task[T]], object] | None = None,
        timeout: float | None = None,
        soft_timeout: float | None = None,
        timeout_callback: Callable[[BaseException], object] | None = None,
        soft_timeout_exc: type[BaseException] = ...,
        soft_timeout_callback: Callable[[Task[T]], object] | None = None,
    ) -> Task[T]: ...

    def map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]: ...

    def imap_unordered(self, fn: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]: ...

    def join(self, timeout: float | None = None) -> bool: ...

    def resize(self, size: int) -> None: ...

    def kill(self, timeout: float | None = None, *, reason: str | None = None) -> bool: ...

    def close(self, timeout: float | None = None) -> bool: ...

    def stats(self) -> dict[str, int]: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class TimerEntry(Protocol):
    """One scheduled call."""

    @property
    def deadline(self) -> float: ...

    @property
    def cancelled(self) -> bool: ...

    def cancel(self) -> None: ...


@runtime_checkable
class Timer(Protocol):
    """Schedules calls; an exception in a callback is logged, never fatal."""

    def __len__(self) -> int:
        """The entries still to fire (a repeating one counts once)."""
        ...

    def call_after(self, delay: float, fn: Callable[..., object], /, *args: Any) -> TimerEntry: ...

    def call_at(self, when: float, fn: Callable[..., object], /, *args: Any) -> TimerEntry: ...

    def call_repeatedly(
        self, interval: float, fn: Callable[..., object], /, *args: Any
    ) -> TimerEntry: ...

    def cancel(self, entry: TimerEntry) -> None: ...

    def clear(self) -> None: ...

    @property
    def queue(self) -> list[TimerEntry]: ...

    def stop(self) -> None: ...


@runtime_checkable
class TimeoutScope(Protocol):
    """``with scope:`` raises ``TimeoutExpired`` if the block outlives it."""

    @property
    def expired(self) -> bool: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


@runtime_checkable
class Patcher(Protocol):
    """Monkey-patching of the standard library, keyed by stdlib module name."""

    def patch(self, **options: bool) -> list[str]:
        """Patch; options are stdlib module names (``socket=False`` skips one).
        Returns the stdlib module names that are now patched."""
        ...

    def is_patched(self, module: str) -> bool: ...

    def original(self, module: str, name: str) -> Any: ...


class HasFileno(Protocol):
    def fileno(self) -> int: ...


#: What ``wait_readable`` / ``wait_writable`` accept: an fd or an object with
#: ``fileno()`` (a socket, a file).
FileDescriptorLike = Union[int, HasFileno]


class SyncEvent(Protocol):
    """``threading.Event``'s API (``greenabc.Event()``)."""

    def set(self) -> object: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set or *timeout* passes; the flag."""
        ...


class SyncLock(Protocol):
    """``threading.Lock``'s and ``threading.RLock``'s API."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class SyncSemaphore(Protocol):
    """``threading.Semaphore``'s and ``threading.BoundedSemaphore``'s API."""

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...

    def release(self, n: int = 1) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class SyncCondition(Protocol):
    """``threading.Condition``'s API."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T: ...

    def notify(self, n: int = 1) -> None: ...

    def notify_all(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class SyncQueue(Protocol):
    """``queue.Queue``'s API: ``put``/``get`` raise ``queue.Full`` /
    ``queue.Empty`` (the standard library's classes)."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None: ...

    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...

    def put_nowait(self, item: Any) -> None: ...

    def get_nowait(self) -> Any: ...

    def qsize(self) -> int: ...

    def empty(self) -> bool: ...

    def full(self) -> bool: ...

    def task_done(self) -> None: ...

    def join(self) -> Any: ...


class SyncPrimitives(Protocol):
    """The standard library's synchronisation primitives, with its names and
    semantics: what a Backend offers library authors and an Engine supplies."""

    def Event(self) -> SyncEvent: ...  # noqa: N802 (the stdlib's names)

    def Lock(self) -> SyncLock: ...  # noqa: N802

    def RLock(self) -> SyncLock: ...  # noqa: N802

    def Semaphore(self, value: int = 1) -> SyncSemaphore: ...  # noqa: N802

    def BoundedSemaphore(self, value: int = 1) -> SyncSemaphore: ...  # noqa: N802

    def Condition(self, lock: SyncLock | None = None) -> SyncCondition: ...  # noqa: N802

    def Queue(self, maxsize: int = 0) -> SyncQueue: ...  # noqa: N802

    def local(self) -> Any:
        """An object whose attributes are per task (green thread or thread)."""
        ...


@runtime_checkable
class Backend(SyncPrimitives, Protocol):
    """A named engine: gathers Pool, Timer, Timeout and Patcher, and the
    primitives for library authors."""

    name: str
    protocol_version: int
    capabilities: Capabilities
    #: None when the backend cannot patch (``capabilities.can_patch`` is False).
    patcher: Patcher | None

    def create_pool(self, size: int | None = None, *, grace: float = 10.0) -> Pool:
        """A new Pool running at most *size* tasks at once (default: the
        backend's own); ``with pool:`` whose body raised closes within
        *grace* seconds, killing what still runs."""
        ...

    def spawn(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Task[T]:
        """Run ``fn(*args, **kwargs)`` now, bounded by no pool."""
        ...

    def create_timer(self) -> Timer: ...

    def timeout(self, seconds: float | None) -> TimeoutScope: ...

    def detect_blocking(self, threshold: float) -> Cancellable:
        """Report hub stalls longer than *threshold* seconds on the logger
        ``greenabc.blocking``; raises ``GreenabcError`` where unsupported."""
        ...

    # The primitives of SyncPrimitives, on this backend's engine (see
    # docs/library-authors.md), and sleep:

    def sleep(self, seconds: float) -> None: ...

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in an OS thread of a bounded pool and
        return its result (or raise its exception); the engine keeps running."""
        ...

    def from_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """From an OS thread outside the engine: run ``fn(*args, **kwargs)`` in
        the engine (a green thread of its hub) and wait for its result."""
        ...

    def wait_readable(self, fd: FileDescriptorLike, timeout: float | None = None) -> bool:
        """Wait until *fd* is readable: True, or False once *timeout* passes."""
        ...

    def wait_writable(self, fd: FileDescriptorLike, timeout: float | None = None) -> bool:
        """Wait until *fd* is writable: True, or False once *timeout* passes."""
        ...


# --------------------------------------------------------------------------
# What an adapter supplies: the Engine.


class Cancellable(Protocol):
    def cancel(self) -> object: ...


class CoreSemaphore(Protocol):
    """The semaphore the core derives locks and semaphores from:
    ``release()`` never blocks or switches (the core calls it with its state
    lock held)."""

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> object: ...


class CoreQueue(Protocol):
    """The core's hand-off queue, unbounded: ``put`` never blocks or switches;
    ``get`` blocks until an item is there."""

    def put(self, item: Any) -> object: ...

    def get(self) -> Any: ...


class Portal(Protocol):
    """A way into one engine thread (the OS thread whose hub runs green
    threads) from any other OS thread."""

    def call_soon(self, fn: Callable[..., object], /, *args: Any) -> None:
        """Thread-safe: have ``fn(*args)`` called soon in the engine thread's
        scheduler (the hub), waking it if it sleeps. *fn* must not block."""
        ...

    def is_home(self) -> bool:
        """True if the calling OS thread is this portal's engine thread."""
        ...


class Engine(SyncPrimitives, Protocol):
    """What an adapter supplies; the core writes the semantics on it.

    Four groups of members:

    * running and stopping code: :meth:`spawn`, :meth:`current`,
      :meth:`interrupt`, :meth:`checkpoint`, :meth:`call_later`,
      :meth:`sleep`, :meth:`monotonic`;
    * the core's own primitives, ``core_*``: small, with the rule that
      nothing the core calls with its state lock held blocks or switches;
    * the standard library's primitives, with its names and semantics
      (``Event``, ``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``,
      ``Condition``, ``Queue``, ``local``): what ``backend.Event()`` and
      ``greenabc.Event()`` return;
    * crossing to and from OS threads: :meth:`to_thread`, :meth:`portal`,
      :meth:`wait_readable`, :meth:`wait_writable`.

    Behaviour that differs between engines is a member here, never a test of
    :class:`Capabilities` in the core. ``greenabc.adapter.GreenEngineBase``
    and ``greenabc.adapter.OSThreadEngineBase`` supply defaults for the
    members that can have one.

    *Handle* values (from :meth:`spawn` and :meth:`current`) are opaque to the
    core: it compares them with ``==`` and passes them back to
    :meth:`interrupt`.
    """

    #: The :data:`PROTOCOL_VERSION` this engine was written against.
    protocol_version: int

    def spawn(self, fn: Callable[[], object]) -> object:
        """Run *fn* concurrently (a thread, a greenlet); return its handle."""
        ...

    def current(self) -> object:
        """The handle of the calling thread or green thread."""
        ...

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> object:
        """Raise *exc_type* in *handle* soon: at its next switch on a green
        engine (checking ``guard()`` at delivery, and dropping the interrupt
        if it is false), at its next Python-level check on threads (checking
        ``guard()`` as it sends). Called with the core's state lock held: must
        not block or switch. Callable from timer callbacks. The core never
        interrupts the calling thread or green thread with it, and, once
        ``guard()`` has turned false, calls :meth:`checkpoint` to drain an
        interrupt that may still be pending."""
        ...

    def checkpoint(self) -> object:
        """Raise here an interrupt already sent to the caller, if one is
        pending. A no-op on a green engine (an interrupt is thrown in at a
        switch); on OS threads, a call of an empty Python function (CPython
        raises asynchronous exceptions on entry to one)."""
        ...

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Cancellable:
        """Call ``fn(*args)`` after *delay* seconds in the engine's scheduler
        (a hub timer, a scheduler thread). *fn* must not block."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def monotonic(self) -> float:
        """The clock that ``call_later`` and ``Timer.call_at`` use."""
        ...

    # The core's own primitives.

    def core_lock(self) -> SyncLock:
        """A lock for the core's own state: held for a few lines, never
        across a blocking call, so a green engine may return a real OS lock."""
        ...

    def core_event(self) -> SyncEvent:
        """A flag to wait on; ``set()`` never blocks or switches."""
        ...

    def core_semaphore(self, value: int) -> CoreSemaphore: ...

    def core_queue(self) -> CoreQueue: ...

    # SyncPrimitives: the base classes derive them from the core's; an
    # engine may return native ones, e.g. gevent's Event.

    # Crossing to and from OS threads.

    def to_thread(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in an OS thread of a bounded pool,
        blocking only the caller (its green thread), not the engine; return
        its result or raise its exception (any ``BaseException``). An engine
        whose tasks are OS threads already may call it in place."""
        ...

    def portal(self) -> Portal:
        """Called in an engine thread: a :class:`Portal` into it. May be
        cached per engine thread."""
        ...

    def any_thread_portal(self) -> Portal | None:
        """A :class:`Portal` that holds in every OS thread, for an engine
        whose every OS thread is an engine thread (``from_thread`` then
        calls in place, before any engine thread used the backend too);
        None for an engine with hub threads."""
        ...

    def wait_readable(self, fd: int, timeout: float | None) -> bool:
        """Wait (yielding to the engine) until *fd* is readable; False if
        *timeout* seconds pass first."""
        ...

    def wait_writable(self, fd: int, timeout: float | None) -> bool:
        """Wait until *fd* is writable; False if *timeout* seconds pass first."""
        ...
