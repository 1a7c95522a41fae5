"""greenabc: one typed layer over gevent, eventlet and threads.

Write concurrent code once against small interfaces (Pool, Timer, Timeout,
Patcher, gathered by a Backend) and choose the engine by name at run time::

    import greenabc

    with greenabc.get_pool("threads", size=8) as pool:
        print(pool.map(len, ["a", "bb", "ccc"]))

``import greenabc`` imports no engine and reads no entry points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from . import signals
from ._core import _early_imports
from ._core._detect import current_backend
from ._core._early_imports import Finding, check_patching
from ._core._exceptions import (
    BackendConflictWarning,
    BackendUnavailableError,
    GreenabcError,
    PatchError,
    PatchWarning,
    PoolClosed,
    SoftTimeout,
    TaskKilled,
    TaskTimedOut,
    TimeoutExpired,
    UnknownBackendError,
)
from ._core._facade import (
    BoundedSemaphore,
    Condition,
    Event,
    Lock,
    Queue,
    RLock,
    Semaphore,
    from_thread,
    local,
    sleep,
    to_thread,
    wait_readable,
    wait_writable,
)
from ._core._patching import detect_blocking, patch
from ._core._registry import (
    ENTRY_POINT_GROUP,
    available_backends,
    get_backend,
    register_backend,
)
from ._core._task import current_task
from .interfaces import Backend, Pool, Task, TimeoutScope, Timer, TimerEntry

__version__ = "0.1.0"

T = TypeVar("T")

_early_imports.take_snapshot()  # the stdlib as it is now, to find early imports if we patch later

__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendConflictWarning",
    "BackendUnavailableError",
    "BoundedSemaphore",
    "Condition",
    "Event",
    "Finding",
    "GreenabcError",
    "Lock",
    "PatchError",
    "PatchWarning",
    "Pool",
    "PoolClosed",
    "Queue",
    "RLock",
    "Semaphore",
    "SoftTimeout",
    "Task",
    "TaskKilled",
    "TaskTimedOut",
    "TimeoutExpired",
    "TimeoutScope",
    "Timer",
    "TimerEntry",
    "UnknownBackendError",
    "__version__",
    "available_backends",
    "check_patching",
    "current_backend",
    "current_task",
    "detect_blocking",
    "from_thread",
    "get_backend",
    "get_pool",
    "get_timer",
    "local",
    "patch",
    "register_backend",
    "signals",
    "sleep",
    "spawn",
    "timeout",
    "to_thread",
    "wait_readable",
    "wait_writable",
]


def get_pool(name: str | None = None, size: int | None = None, *, grace: float = 10.0) -> Pool:
    """A new Pool of the backend *name* (see :func:`get_backend`) running at
    most *size* tasks at once (default: the backend's own). ``with pool:``
    whose body raised closes within *grace* seconds (then kills the rest)."""
    return get_backend(name).create_pool(size, grace=grace)


def spawn(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Task[T]:
    """Run ``fn(*args, **kwargs)`` now in a green thread (or a thread) of the
    default backend, bounded by no pool; returns its Task (get, wait, kill)."""
    return get_backend().spawn(fn, *args, **kwargs)


def get_timer(name: str | None = None) -> Timer:
    """A new Timer of the backend *name* (see :func:`get_backend`)."""
    return get_backend(name).create_timer()


def timeout(seconds: float | None, *, backend: str | None = None) -> TimeoutScope:
    """``with greenabc.timeout(2.0):`` raises ``TimeoutExpired`` if the block
    outlives *seconds*; ``None`` means no limit. Starts on enter; nests."""
    return get_backend(backend).timeout(seconds)
