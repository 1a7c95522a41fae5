"""The Task handle: one accepted unit of work and its single outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._exceptions import SoftTimeout, TimeoutExpired
from ._validate import check_optional_seconds

if TYPE_CHECKING:
    from ._pool import EnginePool

T = TypeVar("T")

logger = logging.getLogger("greenabc")

# Life cycle: QUEUED -> RUNNING -> FINISHING -> RELEASED (its worker has left
# it and its slot is free). Interrupts are sent only while RUNNING.
QUEUED, RUNNING, FINISHING, RELEASED = 0, 1, 2, 3
# Outcome: decided exactly once, by whoever gets there first under the pool's
# lock: the worker (success/failure), the hard-timeout timer, or a kill.
SUCCESS, FAILURE, TIMED_OUT, KILLED = "success", "failure", "timed out", "killed"

#: The task the calling code runs in. Each green thread and each OS thread has
#: a context of its own, so this works on every engine without asking one. A
#: worker sets it once, to a cell it then stores each task into: a store costs
#: far less than setting a context variable twice per task.
_current: ContextVar[list[Task[Any] | None]] = ContextVar("greenabc_current_task")


def current_task() -> Task[Any] | None:
    """The Task the calling code runs in, or None outside any task.

    ``current_task().ready()`` is True once the task's outcome is decided
    (killed, or past its hard deadline): whatever it does from then on is
    discarded, so cooperating code (a result store) can drop late writes.
    """
    cell = _current.get(None)
    return None if cell is None else cell[0]


def call_logged(what: str, fn: Callable[..., object], *args: Any) -> None:
    """Call a user callback; an exception is logged, never propagated, so one
    bad callback loses no other task."""
    try:
        fn(*args)
    except Exception:
        logger.exception("greenabc: %s %r raised", what, fn)


class Task(Generic[T]):
    """A handle on one accepted unit of work (see ``greenabc.interfaces.Task``)."""

    __slots__ = (
        "__weakref__",
        "_deadline",
        "_decided_at",
        "_done_callbacks",
        "_done_event",
        "_interrupted",
        "_outcome",
        "_pool",
        "_released_event",
        "_reported",
        "_resend",
        "_state",
        "_value",
        "_worker",
        "accept_callback",
        "args",
        "callback",
        "error_callback",
        "fn",
        "id",
        "kwargs",
        "soft_timeout",
        "soft_timeout_callback",
        "soft_timeout_exc",
        "timeout",
        "timeout_callback",
    )

    def __init__(
        self,
        pool: EnginePool,
        task_id: int,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callback: Callable[[T], object] | None,
        error_callback: Callable[[BaseException], object] | None,
        accept_callback: Callable[[Task[T]], object] | None,
        timeout: float | None,
        soft_timeout: float | None,
        timeout_callback: Callable[[BaseException], object] | None,
        soft_timeout_exc: type[BaseException] = SoftTimeout,
        soft_timeout_callback: Callable[[Task[T]], object] | None = None,
    ) -> None:
        self._pool = pool
        self.id = task_id
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.callback = callback
        self.error_callback = error_callback
        self.accept_callback = accept_callback
        self.timeout = timeout
        self.soft_timeout = soft_timeout
        self.timeout_callback = timeout_callback
        self.soft_timeout_exc = soft_timeout_exc
        self.soft_timeout_callback = soft_timeout_callback
        self._state = QUEUED
        self._outcome: str | None = None
        self._value: Any = None
        self._worker: object = None
        self._deadline = 0.0  # the hard deadline, once running with a timeout
        self._decided_at = 0.0  # when a kill or timeout decided the outcome
        self._interrupted = False  # an interrupt was sent: the worker drains it
        self._reported = False  # reported as still running long after its decision
        self._resend: Any = None  # after a kill or timeout: the re-interrupt
        self._done_event: Any = None
        self._released_event: Any = None
        self._done_callbacks: list[Callable[[Task[T]], object]] | None = None

    def __repr__(self) -> str:
        outcome = self._outcome or ("running" if self._state == RUNNING else "queued")
        return f"<greenabc Task {self.id} {getattr(self.fn, '__name__', self.fn)!r} {outcome}>"

    # -- queries ---------------------------------------------------------

    def ready(self) -> bool:
        return self._outcome is not None

    def successful(self) -> bool:
        return self._outcome == SUCCESS

    @property
    def outcome(self) -> str | None:
        """``"success"``, ``"failure"``, ``"timed out"``, ``"killed"`` or None
        while undecided. Decided once, and final."""
        return self._outcome

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the outcome is known; True if it is. ``None``: unbounded."""
        timeout = check_optional_seconds(timeout, "timeout")
        if self._outcome is not None:
            return True
        pool = self._pool
        with pool._lock:
            if self._outcome is not None:
                return True
            if self._done_event is None:
                self._done_event = pool._engine.core_event()
            event = self._done_event
        return bool(event.wait(timeout)) or self._outcome is not None

    def get(self, timeout: float | None = None) -> T:
        """The result, or the task's exception re-raised (``TaskKilled`` /
        ``TaskTimedOut`` when it was killed / timed out). Raises
        ``TimeoutExpired`` if not ready within *timeout*; ``None``: unbounded."""
        if timeout is not None:
            timeout = check_optional_seconds(timeout, "timeout")
        if self._outcome is None and not self.wait(timeout):
            raise TimeoutExpired(f"task {self.id} not ready within {timeout:g} s")
        if self._outcome == SUCCESS:
            return self._value  # type: ignore[no-any-return]
        raise self._value

    def kill(
        self, block: bool = True, timeout: float | None = None, *, reason: str | None = None
    ) -> bool:
        """Report the task killed now (``TaskKilled``, saying *reason*) and
        interrupt it. With *block*, wait up to *timeout* (``None``:
        unbounded) for its worker to leave it. Returns True if the task is no
        longer running."""
        timeout = check_optional_seconds(timeout, "timeout")
        self._pool._kill_task(self, reason)
        if not block or self._state == RELEASED or current_task() is self:
            return self._state == RELEASED  # a task never waits for itself
        pool = self._pool
        with pool._lock:
            if self._state == RELEASED:
                return True
            if self._released_event is None:
                self._released_event = pool._engine.core_event()
            event = self._released_event
        event.wait(timeout)
        return self._state == RELEASED

    def add_done_callback(self, fn: Callable[[Task[T]], object]) -> None:
        """Call ``fn(task)`` once the outcome is known (at once if it is)."""
        with self._pool._lock:
            if self._outcome is None:
                if self._done_callbacks is None:
                    self._done_callbacks = []
                self._done_callbacks.append(fn)
                return
        call_logged("done callback", fn, self)

    # -- called by the pool once the outcome is decided -------------------

    def _has_listeners(self) -> bool:
        """Whether ``_announce`` has anything to do; with the pool's lock held."""
        return (
            self._done_event is not None
            or bool(self._done_callbacks)
            or self.callback is not None
            or self.error_callback is not None
            or self.timeout_callback is not None
        )

    def _announce(self) -> None:
        """Wake waiters and run the one outcome callback, then done callbacks."""
        if self._done_event is not None:
            self._done_event.set()
        outcome = self._outcome
        if outcome == SUCCESS:
            if self.callback is not None:
                call_logged("callback", self.callback, self._value)
        elif outcome == TIMED_OUT and self.timeout_callback is not None:
            call_logged("timeout_callback", self.timeout_callback, self._value)
        elif self.error_callback is not None:
            call_logged("error_callback", self.error_callback, self._value)
        if self._done_callbacks:
            for fn in self._done_callbacks:
                call_logged("done callback", fn, self)
