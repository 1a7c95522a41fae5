"""The typed interfaces of greenabc.

Two audiences read this module:

* users of a backend see :class:`Backend`, :class:`Pool`, :class:`Task`,
  :class:`Timer`, :class:`TimerEntry`, :class:`TimeoutScope` and
  :class:`Patcher`;
* adapter authors implement :class:`Engine`, the few primitives only an engine
  can supply, and wrap it in :class:`greenabc.adapter.EngineBackend`, which
  builds the Pool, Timer and Timeout semantics on top of it.

Every Backend declares :data:`PROTOCOL_VERSION`; the registry refuses a
backend whose version it does not support, with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from typing_extensions import Self

__all__ = [
    "PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Backend",
    "Cancellable",
    "Capabilities",
    "Engine",
    "EventLike",
    "LockLike",
    "Patcher",
    "Pool",
    "QueueLike",
    "SemaphoreLike",
    "Task",
    "TimeoutScope",
    "Timer",
    "TimerEntry",
]

#: The version of these interfaces. An adapter sets ``protocol_version`` on its
#: Backend to the value it was written against.
PROTOCOL_VERSION = 1
#: The versions this release of greenabc can drive.
SUPPORTED_PROTOCOL_VERSIONS = frozenset({1})

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

    def as_dict(self) -> dict[str, object]:
        return {
            "is_green": self.is_green,
            "signal_safe": self.signal_safe,
            "can_interrupt": self.can_interrupt,
            "can_interrupt_blocking_calls": self.can_interrupt_blocking_calls,
            "can_detect_blocking": self.can_detect_blocking,
            "can_patch": self.can_patch,
            "notes": list(self.notes),
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

    def kill(self, block: bool = True, timeout: float | None = None) -> bool:
        """Report the task killed and interrupt it; with *block*, wait up to
        *timeout* for it to stop. True if it has stopped."""
        ...

    def add_done_callback(self, fn: Callable[[Task[T_co]], object]) -> None: ...


@runtime_checkable
class Pool(Protocol):
    """A bounded set of concurrent workers with one set of semantics."""

    @property
    def size(self) -> int: ...

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
    ) -> Task[T]: ...

    def map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]: ...

    def imap_unordered(self, fn: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]: ...

    def join(self, timeout: float | None = None) -> bool: ...

    def resize(self, size: int) -> None: ...

    def kill(self, timeout: float | None = None) -> bool: ...

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


@runtime_checkable
class Backend(Protocol):
    """A named engine: gathers Pool, Timer, Timeout and Patcher."""

    name: str
    protocol_version: int
    capabilities: Capabilities
    #: None when the backend cannot patch (``capabilities.can_patch`` is False).
    patcher: Patcher | None

    def create_pool(self, size: int | None = None) -> Pool: ...

    def create_timer(self) -> Timer: ...

    def timeout(self, seconds: float | None) -> TimeoutScope: ...

    def detect_blocking(self, threshold: float) -> Cancellable:
        """Report hub stalls longer than *threshold* seconds on the logger
        ``greenabc.blocking``; raises ``GreenabcError`` where unsupported."""
        ...


# --------------------------------------------------------------------------
# What an adapter supplies: the primitives.


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class EventLike(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class LockLike(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class SemaphoreLike(Protocol):
    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...


class QueueLike(Protocol):
    """An unbounded FIFO: ``put`` never blocks; ``get`` blocks until an item."""

    def put(self, item: Any) -> None: ...

    def get(self) -> Any: ...


class Engine(Protocol):
    """The primitives an adapter supplies; the core writes the semantics.

    *Handle* values (from :meth:`spawn` and :meth:`current`) are opaque to the
    core: it compares them with ``==`` and passes them back to
    :meth:`interrupt`.
    """

    def spawn(self, fn: Callable[[], object]) -> object:
        """Run *fn* concurrently (a thread, a greenlet); return its handle."""
        ...

    def current(self) -> object:
        """The handle of the calling thread or green thread."""
        ...

    def interrupt(
        self, handle: object, exc_type: type[BaseException], guard: Callable[[], bool]
    ) -> None:
        """Raise *exc_type* in *handle* soon: at its next switch on a green
        engine (checking ``guard()`` at delivery, and dropping the interrupt
        if it is false), at its next Python-level check on threads (checking
        ``guard()`` as it sends). Called with the core's state lock held: must
        not block or switch. Callable from timer callbacks. The core never
        interrupts the calling thread or green thread with it, and drains an
        interrupt that may be pending once ``guard()`` turns false (it calls
        a Python function, where CPython raises asynchronous exceptions)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def event(self) -> EventLike: ...

    def lock(self) -> LockLike:
        """A lock for the core's own state: held for a few lines, never
        across a blocking call, so a green engine may return a real OS lock."""
        ...

    def semaphore(self, value: int) -> SemaphoreLike: ...

    def queue(self) -> QueueLike: ...

    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Cancellable:
        """Call ``fn(*args)`` after *delay* seconds in the engine's scheduler
        (a hub timer, a scheduler thread). *fn* must not block."""
        ...

    def monotonic(self) -> float:
        """The clock that ``call_later`` and ``Timer.call_at`` use."""
        ...
