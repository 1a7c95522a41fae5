"""The Task: one accepted unit of work, and the state machine of its life.

::

    QUEUED --start--> RUNNING --finish--> FINISHING --release--> RELEASED
       \\                 |
        \\--decide--------+--decide (kill, hard timeout): outcome fixed, interrupts sent

The outcome is decided exactly once, by whoever gets there first: the worker
when ``fn`` returns or raises (timed out if that is past the hard deadline),
the hard deadline, or a kill. Interrupts are sent only while RUNNING, so a
late one never reaches the next task of the same worker.

Every transition is a method of the Task, called with the pool's lock held,
and states its one rule; the pool keeps slots, workers and its queue, and
never writes a field of a Task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from ._deadlines import REINTERRUPT_INTERVAL
from ._exceptions import Interrupt, SoftTimeout, TaskTimedOut, TimeoutExpired
from ._validate import check_optional_seconds

if TYPE_CHECKING:
    from ._pool import EnginePool

T = TypeVar("T")

logger: Final = logging.getLogger("greenabc")

# Final: constants to mypyc (no module-dict look-up where the core is compiled).
QUEUED: Final = 0
RUNNING: Final = 1
FINISHING: Final = 2
RELEASED: Final = 3
SUCCESS: Final = "success"
FAILURE: Final = "failure"
TIMED_OUT: Final = "timed out"
KILLED: Final = "killed"
PENDING: Final = "pending"  # _finish: an interrupt may be pending, drain it first

#: What a released task's ``kwargs`` becomes (shared: never mutated).
_NO_KWARGS: Final[dict[str, Any]] = {}

#: The task the calling code runs in. Each green thread and each OS thread has
#: a context of its own, so this works on every engine without asking one. A
#: worker sets it once, to a cell it then stores each task into: a store costs
#: far less than setting a context variable twice per task.
_current: Final[ContextVar[list[Task[Any] | None]]] = ContextVar("greenabc_current_task")


def current_task() -> Task[Any] | None:
    """The Task the calling code runs in, or None outside any task.

    ``current_task().ready()`` is True once the task's outcome is decided
    (killed, or past its hard deadline): whatever it does from then on is
    discarded, so cooperating code (a result store) can drop late writes.
    """
    cell = _current.get(None)
    return None if cell is None else cell[0]


def call_logged(what: str, fn: Callable[..., object], *args: Any) -> None:
    """Call a user callback; whatever it raises is logged, never propagated,
    so one bad callback loses no other task."""
    try:
        fn(*args)
    except BaseException:
        logger.exception("greenabc: %s %r raised", what, fn)


class Task(Generic[T]):
    """A handle on one accepted unit of work (see ``greenabc.interfaces.Task``)."""

    __slots__ = (
        "__weakref__",
        "_deadline",
        "_decided_at",
        "_done_callbacks",
        "_done_event",
        "_hard",
        "_interrupted",
        "_outcome",
        "_pool",
        "_released_event",
        "_reported",
        "_resend",
        "_soft",
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
        self._pool = pool  # read for its lock, engine and deadlines; never written
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
        self._hard: list[Any] | None = None  # the deadline entries, while running
        self._soft: list[Any] | None = None
        self._resend: list[Any] | None = None  # after a kill or timeout: the re-interrupt
        self._decided_at = 0.0  # when a kill or timeout decided the outcome
        self._interrupted = False  # an interrupt was sent: the worker drains it
        self._reported = False  # reported as still running long after its decision
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

    def running(self) -> bool:
        """True while a worker runs the task's function."""
        return self._state == RUNNING

    def wait(self, timeout: object = None) -> bool:  # checked here, typed in interfaces
        """Wait until the outcome is known; True if it is. ``None``: unbounded."""
        limit = check_optional_seconds(timeout, "timeout")
        # ready(), not self._outcome: after one `is not None` test mypy types
        # the attribute None, and the compiled core's next read of it would
        # raise TypeError once another task decided it.
        if self.ready():
            return True
        pool = self._pool
        with pool._lock:
            if self.ready():
                return True
            if self._done_event is None:
                self._done_event = pool._engine.core_event()
            event = self._done_event
        return bool(event.wait(limit)) or self.ready()

    def get(self, timeout: object = None) -> T:
        """The result, or the task's exception re-raised (``TaskKilled`` /
        ``TaskTimedOut`` when it was killed / timed out). Raises
        ``TimeoutExpired`` if not ready within *timeout*; ``None``: unbounded."""
        if self._outcome is None:
            limit = check_optional_seconds(timeout, "timeout")
            if not self.wait(limit):
                assert limit is not None
                raise TimeoutExpired(f"task {self.id} not ready within {limit:g} s")
        if self._outcome == SUCCESS:
            return self._value  # type: ignore[no-any-return]
        try:
            raise self._value
        finally:
            self = None  # type: ignore[assignment]  # no cycle through the traceback

    def kill(
        self, block: bool = True, timeout: float | None = None, *, reason: str | None = None
    ) -> bool:
        """Report the task killed now (``TaskKilled``, saying *reason*) and
        interrupt it. With *block*, wait up to *timeout* (``None``:
        unbounded) for its worker to leave it. Returns True if the task is no
        longer running."""
        timeout = check_optional_seconds(timeout, "timeout")
        pool = self._pool
        pool._kill_task(self, reason)
        if not block or self._state == RELEASED or current_task() is self:
            return self._state == RELEASED  # a task never waits for itself
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

    # -- transitions: each with the pool's lock held ------------------------

    def _start(self, worker: object) -> bool:
        """QUEUED -> RUNNING on *worker*; its deadlines count from now.
        False if its outcome is decided already (killed while queued)."""
        if self._outcome is not None:
            return False
        self._state = RUNNING
        self._worker = worker
        if self.timeout is not None or self.soft_timeout is not None:
            pool = self._pool
            now = pool._engine.monotonic()
            if self.timeout is not None:
                self._deadline = now + self.timeout
                self._hard = [self._deadline, 0, pool._expire_hard, (self,)]
                pool._deadlines.file(self._hard)
            if self.soft_timeout is not None:
                self._soft = [now + self.soft_timeout, 0, pool._expire_soft, (self,)]
                pool._deadlines.file(self._soft)
        return True

    def _finish(self, ok: bool, value: Any, drained: bool = False) -> str | None:
        """RUNNING -> FINISHING (no interrupt is sent from now on), and the
        worker's outcome, unless one is decided: timed out if it ends past
        the hard deadline (whether or not a timer got to run), else its
        result. Returns the outcome decided here, or None; ``PENDING`` if an
        interrupt was sent before, which the worker must drain first (then
        it calls again, *drained*)."""
        self._state = FINISHING
        if self._interrupted and not drained:
            return PENDING
        if self._outcome is not None:
            return None
        if self.timeout is not None and self._pool._engine.monotonic() >= self._deadline:
            self._outcome = TIMED_OUT
            self._value = TaskTimedOut(self.id, self.timeout)
        elif ok:
            self._outcome = SUCCESS
            self._value = value
        else:
            self._outcome = FAILURE
            self._value = value
        return self._outcome

    def _decide(self, outcome: str, value: BaseException, now: float) -> bool:
        """Kill or time out: record *outcome* if none is yet; True if this did."""
        if self._outcome is not None:
            return False
        self._outcome = outcome
        self._value = value
        self._decided_at = now
        return True

    def _stop(self, exc_type: type[Interrupt]) -> None:
        """Interrupt a RUNNING task whose outcome was just decided, now and
        again every ``REINTERRUPT_INTERVAL`` until it ends (level-triggered,
        as trio's cancellation: code that catches ``BaseException`` cannot
        keep its worker)."""
        pool = self._pool
        engine = pool._engine
        self._interrupted = True
        if self._resend is not None:
            pool._deadlines.cancel(self._resend)
        if self._worker == engine.current():  # stopping itself: at its next check
            delay = 0.0
        else:
            engine.interrupt(self._worker, exc_type, self.running)
            delay = REINTERRUPT_INTERVAL
        self._resend = pool._deadlines.after(delay, pool._reinterrupt, self, exc_type)

    def _soft_interrupt(self) -> bool:
        """The soft deadline passed: raise ``soft_timeout_exc`` in the task
        if it still runs undecided. True if it was sent."""
        if self._state != RUNNING or self._outcome is not None:
            return False
        self._interrupted = True
        self._pool._engine.interrupt(self._worker, self.soft_timeout_exc, self._undecided)
        return True

    def _overdue(self, now: float, after: float) -> float | None:
        """Seconds since its kill or timeout, once that passes *after*, the
        first time it is asked (it is reported once); else None."""
        late = now - self._decided_at
        if late < after or self._reported:
            return None
        self._reported = True
        return late

    def _undecided(self) -> bool:
        return self._state == RUNNING and self._outcome is None

    def _release(self) -> bool:
        """-> RELEASED: its worker has left it. Cancels its deadline entries,
        wakes ``kill(block=True)``, and drops what only running needed, so a
        kept handle holds its outcome and nothing else. Returns whether
        anything waits for its outcome (a waiter or a callback): what
        ``_announce`` would have to do."""
        self._state = RELEASED
        if self._hard is not None or self._soft is not None or self._resend is not None:
            cancel = self._pool._deadlines.cancel  # takes no lock
            if self._hard is not None:
                cancel(self._hard)
            if self._soft is not None:
                cancel(self._soft)
            if self._resend is not None:
                cancel(self._resend)
            self._hard = self._soft = self._resend = None
        self._worker = None
        self.args = ()
        self.kwargs = _NO_KWARGS
        if self._released_event is not None:
            self._released_event.set()
        return (
            self._done_event is not None
            or bool(self._done_callbacks)
            or self.callback is not None
            or self.error_callback is not None
            or self.timeout_callback is not None
        )

    # -- after the outcome is decided, without the lock -----------------------

    def _announce(self) -> None:
        """Wake waiters and run the one outcome callback, then done callbacks.
        Whatever a callback raises is logged, never propagated."""
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
