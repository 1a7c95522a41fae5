"""The module-level primitives (``greenabc.Event()``, ``greenabc.sleep()``
...): the default backend's (see ``greenabc.get_backend``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..interfaces import (
    FileDescriptorLike,
    SyncCondition,
    SyncEvent,
    SyncLock,
    SyncQueue,
    SyncSemaphore,
)
from ._registry import get_backend

T = TypeVar("T")


def sleep(seconds: float) -> None:
    """Sleep *seconds* on the default backend (yielding to the engine)."""
    get_backend().sleep(seconds)


def Event() -> SyncEvent:  # noqa: N802
    """A ``threading.Event`` of the default backend."""
    return get_backend().Event()


def Lock() -> SyncLock:  # noqa: N802
    """A ``threading.Lock`` of the default backend."""
    return get_backend().Lock()


def RLock() -> SyncLock:  # noqa: N802
    """A ``threading.RLock`` of the default backend."""
    return get_backend().RLock()


def Semaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
    """A ``threading.Semaphore`` of the default backend."""
    return get_backend().Semaphore(value)


def BoundedSemaphore(value: int = 1) -> SyncSemaphore:  # noqa: N802
    """A ``threading.BoundedSemaphore`` of the default backend."""
    return get_backend().BoundedSemaphore(value)


def Condition(lock: SyncLock | None = None) -> SyncCondition:  # noqa: N802
    """A ``threading.Condition`` of the default backend."""
    return get_backend().Condition(lock)


def Queue(maxsize: int = 0) -> SyncQueue:  # noqa: N802
    """A ``queue.Queue`` of the default backend (raises ``queue.Full`` /
    ``queue.Empty``)."""
    return get_backend().Queue(maxsize)


def local() -> Any:
    """A ``threading.local`` of the default backend: attributes per green
    thread (or thread)."""
    return get_backend().local()


def to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in an OS thread (a bounded pool) and return
    its result, without stalling the engine."""
    return get_backend().to_thread(fn, *args, **kwargs)


def from_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """From an OS thread outside the engine: run ``fn(*args, **kwargs)`` in
    the engine and return its result."""
    return get_backend().from_thread(fn, *args, **kwargs)


def wait_readable(fd: FileDescriptorLike, timeout: float | None = None) -> bool:
    """Wait until *fd* is readable: True, or False once *timeout* passes."""
    return get_backend().wait_readable(fd, timeout)


def wait_writable(fd: FileDescriptorLike, timeout: float | None = None) -> bool:
    """Wait until *fd* is writable: True, or False once *timeout* passes."""
    return get_backend().wait_writable(fd, timeout)
