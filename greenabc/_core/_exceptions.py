"""greenabc's exceptions and warnings (re-exported from ``greenabc``)."""

from __future__ import annotations


class GreenabcError(Exception):
    """The base of all of greenabc's own errors."""


class UnknownBackendError(GreenabcError, LookupError):
    """No backend of that name exists; the message lists the names that do."""


class BackendUnavailableError(GreenabcError):
    """The backend is known but not installed or not viable here; the message
    says what to ``pip install``."""


class PatchError(GreenabcError):
    """Patching was refused, e.g. another engine is already patched."""


class PoolClosed(GreenabcError, RuntimeError):
    """The pool is closed: it accepts no more work."""


class TimeoutExpired(GreenabcError, TimeoutError):
    """A ``greenabc.timeout`` scope or a bounded wait ran out of time."""


class TaskKilled(GreenabcError):
    """The task was killed before it finished; its result, if any, is discarded.
    ``reason`` says why, when the killer said (``kill(reason=...)``)."""

    def __init__(self, task_id: int, reason: str | None = None) -> None:
        why = f": {reason}" if reason else ""
        super().__init__(f"task {task_id} was killed{why}")
        self.task_id = task_id
        self.reason = reason

    def __reduce__(self) -> tuple[type[TaskKilled], tuple[int, str | None]]:
        return type(self), (self.task_id, self.reason)


class TaskTimedOut(GreenabcError):
    """The task outlived its hard timeout; its result, if any, is discarded."""

    def __init__(self, task_id: int, seconds: float) -> None:
        super().__init__(f"task {task_id} exceeded its hard timeout of {seconds:g} s")
        self.task_id = task_id
        self.seconds = seconds

    def __reduce__(self) -> tuple[type[TaskTimedOut], tuple[int, float]]:
        return type(self), (self.task_id, self.seconds)  # pickles: results cross processes


class SoftTimeout(Exception):
    """Raised inside a task when its soft timeout expires, so it can clean up
    before the hard timeout kills it. An ``Exception`` on purpose."""


class PatchWarning(UserWarning):
    """A module was imported before patching and still holds an unpatched object."""


class Interrupt(BaseException):
    """Raised inside a task or scope by greenabc itself. A ``BaseException``
    so that ``except Exception:`` in user code cannot swallow it."""


class KillInterrupt(Interrupt):
    """Delivered to a task that was killed."""


class HardTimeoutInterrupt(Interrupt):
    """Delivered to a task whose hard timeout expired."""


class ScopeInterrupt(Interrupt):
    """Delivered to the code inside an expired ``greenabc.timeout`` scope."""


class BackendConflictWarning(UserWarning):
    """Two distributions register the same backend name; the message names
    both, the one in use, and how to choose the other."""


# Shown to users (tracebacks, the command line) by their public path.
for _public in (
    GreenabcError,
    UnknownBackendError,
    BackendUnavailableError,
    PatchError,
    PoolClosed,
    TimeoutExpired,
    TaskKilled,
    TaskTimedOut,
    SoftTimeout,
    PatchWarning,
    BackendConflictWarning,
):
    _public.__module__ = "greenabc"
del _public
