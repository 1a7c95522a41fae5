"""The ``TaskPool``: Celery's worker pool API on a greenabc Pool."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import sys
import weakref
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import Any

from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery.concurrency import base
from celery.exceptions import SoftTimeLimitExceeded, Terminated

import greenabc

from ._backlog import Backlog
from ._late_writes import guard_late_writes
from ._restore import install as install_restore
from ._shutdown import ShutdownClock
from ._timer import Timer

logger = logging.getLogger("greenabc.celery")

#: Seconds a warm shutdown (SIGTERM) gives running tasks, counted from the
#: signal, before they are stopped and reported failed with ``WorkerLostError``.
SHUTDOWN_TIMEOUT_ENV = "GREENABC_CELERY_SHUTDOWN_TIMEOUT"
DEFAULT_SHUTDOWN_TIMEOUT = 10.0
#: Seconds the pool waits, once it stopped the tasks left at the bound, for
#: them to end before it closes (each goes on being interrupted after that).
STOP_GRACE = 1.0
#: Seconds the pool's stop waits for the stopped tasks' failures to be stored.
REPORT_BOUND = 60.0
#: Green threads (or threads) that report stopped tasks, at most (see _report).
REPORTERS = 16


def _shutdown_timeout() -> float:
    raw = os.environ.get(SHUTDOWN_TIMEOUT_ENV, "")
    if not raw.strip():
        return DEFAULT_SHUTDOWN_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(
            f"${SHUTDOWN_TIMEOUT_ENV} must be a number of seconds, got {raw!r}"
        ) from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"${SHUTDOWN_TIMEOUT_ENV} must be finite and >= 0, got {raw!r}")
    return seconds


def _exception_info(exc: BaseException) -> Any:
    """A billiard ``ExceptionInfo`` for *exc*, as the worker's handlers take."""
    try:
        raise exc
    except BaseException:
        return ExceptionInfo(sys.exc_info())


class _Job:
    """One task applied by the worker: adapts greenabc's callbacks to the
    worker's, and is what ``on_apply`` returns (Celery keeps a weak reference
    to it and calls ``terminate(signal)`` on revoke)."""

    __slots__ = (
        "__weakref__",
        "accept_callback",
        "callback",
        "celery_id",
        "error_callback",
        "kill_reason",
        "name",
        "pool",
        "soft_timeout",
        "task",
        "timeout",
        "timeout_callback",
    )

    def __init__(
        self,
        pool: TaskPool,
        celery_id: str | None,
        name: str | None,
        callback: Callable[..., object] | None,
        error_callback: Callable[..., object] | None,
        accept_callback: Callable[..., object] | None,
        timeout_callback: Callable[..., object] | None,
        timeout: float | None,
        soft_timeout: float | None,
    ) -> None:
        self.pool = pool
        self.celery_id = celery_id
        self.name = name
        self.callback = callback
        self.error_callback = error_callback
        self.accept_callback = accept_callback
        self.timeout_callback = timeout_callback
        self.timeout = timeout
        self.soft_timeout = soft_timeout
        self.task: greenabc.Task[Any] | None = None
        self.kill_reason: BaseException | None = None

    def __repr__(self) -> str:
        number = self.task.id if self.task is not None else "?"
        return f"<greenabc.contrib.celery job {self.celery_id} (greenabc task {number})>"

    # The worker's "pid" for a task is the greenabc Task's id: unique for the
    # worker's lifetime, where a green thread's id is reused by the next task
    # of the same (reused) worker, so a late terminate could kill the wrong one.

    def on_accept(self, task: greenabc.Task[Any]) -> None:
        self.task = task
        self.pool._running[task.id] = self
        if self.accept_callback is not None:
            self.accept_callback(task.id, monotonic())

    def on_success(self, value: Any) -> None:
        self._forget()
        if self.callback is not None:
            self.callback(value)

    def on_error(self, exc: BaseException) -> None:
        self._forget()
        if isinstance(exc, greenabc.TaskKilled):
            if self.kill_reason is not None:
                exc = self.kill_reason
            elif self.pool._stopping is not None:
                self._report_stopped(self.pool._unexplained_kill(self, exc), exc)
                return
            else:
                exc = self.pool._unexplained_kill(self, exc)
        elif not isinstance(exc, Exception):
            # What Celery's apply_target does with a BaseException.
            exc = WorkerLostError(f"task {self.celery_id} raised {exc!r}")
        if self.error_callback is not None:
            self.error_callback(_exception_info(exc))

    def _report_stopped(self, lost: BaseException, killed: BaseException) -> None:
        """A task the worker's shutdown stopped: one line says which and why;
        where it was stopped only at debug level. The worker's failure handler
        (``Request.on_failure``) would log it as "Task handler raised error"
        with a traceback, once per task: told ``return_ok``, it still stores
        the failure, sends the signal and the event, and logs nothing."""
        self.pool._stopped += 1
        logger.warning("greenabc: %s", lost)
        logger.debug("greenabc: where task %s was stopped", self.label, exc_info=killed)
        callback = self.error_callback
        if callback is None:
            return
        einfo = _exception_info(lost)
        if _takes_return_ok(callback):
            self.pool._report(functools.partial(callback, einfo, return_ok=True))
        else:
            self.pool._report(functools.partial(callback, einfo))

    @property
    def label(self) -> str:
        """Celery's ``name[id]`` for the task, or its id alone."""
        return f"{self.name}[{self.celery_id}]" if self.name else f"{self.celery_id}"

    def on_timeout(self, exc: BaseException) -> None:
        self._forget()
        if self.timeout_callback is not None:
            self.timeout_callback(False, self.timeout)  # Request.on_timeout(soft, timeout)
        elif self.error_callback is not None:
            self.error_callback(_exception_info(exc))

    def on_soft_timeout(self, task: greenabc.Task[Any]) -> None:
        if self.timeout_callback is not None:
            self.timeout_callback(True, self.soft_timeout)  # logs "Soft time limit exceeded"

    def terminate(self, signal: Any = None) -> None:
        """Celery's ``ApplyResult.terminate``: kill the task (revoke)."""
        self.pool._kill(self, "revoke", signal)

    def _forget(self) -> None:
        """The task ended (each callback calls this once)."""
        if self.task is not None:
            self.pool._running.pop(self.task.id, None)
        if self.pool._backlog is not None:
            self.pool._backlog.release()


class TaskPool(base.BasePool):  # type: ignore[misc]
    """A Celery worker pool on a greenabc Pool of the default backend."""

    Timer = Timer
    limit: int
    signal_safe = False  # the worker stops the pool from its loop, not a signal handler
    is_green = False  # set per instance from the backend's capabilities
    task_join_will_block = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.backend = greenabc.get_backend()
        self.is_green = self.backend.capabilities.is_green
        self.task_join_will_block = not self.is_green
        self.limit = int(self.limit or 1)
        self.shutdown_timeout = _shutdown_timeout()
        self.timeout = kwargs.get("timeout")  # --time-limit, as Celery's gevent pool
        self.soft_timeout = kwargs.get("soft_timeout")
        initargs: tuple[Any, ...] = tuple(kwargs.get("initargs") or ())  # (app, hostname)
        self.hostname: str | None = initargs[1] if len(initargs) > 1 else None
        self._pool: greenabc.Pool | None = None
        # An event-loop worker's tasks beyond the free slots (see _backlog).
        self._backlog: Backlog | None = None
        self._running: dict[int, _Job] = {}  # greenabc task id ("pid") -> job
        self._stopping: str | None = None
        self._clock: ShutdownClock | None = None
        self._stopped = 0  # tasks a shutdown stopped, as reported
        self._spawned: set[greenabc.Task[Any]] = set()  # spawn_n's, running
        # Stopped tasks' failure reports, and the few that run them (see _report).
        self._reports: deque[Callable[[], object]] = deque()
        self._reports_lock = greenabc.Lock()
        self._reporters: set[greenabc.Task[None]] = set()
        if self.app is not None:  # before the worker builds its consumer's steps
            install_restore(self.app)

    # -- life cycle ----------------------------------------------------------

    def on_start(self) -> None:
        self._pool = self.backend.create_pool(self.limit)
        if not self.is_green:
            self._backlog = Backlog(self.limit)
        self._clock = ShutdownClock(
            self.backend, self.hostname, self.shutdown_timeout, self._stop_running
        )
        if self.app is not None:
            guard_late_writes(self.app)
        logger.info(
            "greenabc: Celery pool on %s, %d at once, warm shutdown bound %g s from the signal",
            self.backend.name,
            self.limit,
            self.shutdown_timeout,
        )

    def on_stop(self) -> None:
        """Warm shutdown: wait what is left of the bound (counted from the
        signal), then stop what is still running; each stopped task is
        reported failed with ``WorkerLostError``."""
        if self._pool is None or self._clock is None:
            return
        clock = self._clock
        clock.close()  # its watcher ends; what is left of the bound is waited here
        self._drop_backlog()
        clock.begin()
        if not self._pool.join(clock.left(self.shutdown_timeout)):
            self._stop_running()
        # Wait for the stopped tasks to end, kill again what ignored the first
        # kill, stop the workers; then for the failures to be stored.
        self._pool.close(STOP_GRACE)
        self._wait_reports()
        elapsed = clock.elapsed()
        if self._stopped:
            logger.warning(
                "greenabc: warm shutdown done %.2f s after %s: %d task(s) stopped ($%s = %g s)",
                elapsed,
                clock.since(),
                self._stopped,
                SHUTDOWN_TIMEOUT_ENV,
                self.shutdown_timeout,
            )
        else:
            logger.info(
                "greenabc: warm shutdown done %.2f s after %s: every task ended in time",
                elapsed,
                clock.since(),
            )

    def _drop_backlog(self) -> None:
        """A shutdown starts no task that had not started."""
        if self._backlog is None:
            return
        dropped = self._backlog.close()
        if dropped:
            logger.info(
                "greenabc: shutdown: %d task(s) received but not started are left to the broker",
                dropped,
            )

    def _stop_running(self) -> None:
        """The bound ran out: stop every task accepted now, each reported
        ``WorkerLostError`` with the figure (once: the watcher at the
        deadline, or ``on_stop`` if it gets there first)."""
        assert self._pool is not None
        assert self._clock is not None
        if self._stopping is not None:
            return
        clock = self._clock
        ran = clock.elapsed()
        # At the deadline the figure is the bound itself (to timer precision).
        late = ran - self.shutdown_timeout >= 0.1
        figure = f"{ran:.1f}" if late else f"{self.shutdown_timeout:g}"
        self._stopping = (
            f"warm shutdown: still running {figure} s after {clock.since()}"
            f" (${SHUTDOWN_TIMEOUT_ENV} = {self.shutdown_timeout:g} s)"
        )
        count = self._pool.stats()["accepted"]
        if count:
            logger.warning(
                "greenabc: warm shutdown: stopping %d task(s) still running %s s after %s",
                count,
                figure,
                clock.since(),
            )
            self._pool.kill(0, reason=self._stopping)

    def _report(self, report: Callable[[], object]) -> None:
        """Run a stopped task's failure report in one of the pool's few
        reporters, not in the task's own green thread (or thread): Celery's
        result backend is one instance per thread for Redis and most others,
        and each new one connects (the report reads the task's state, then
        stores its failure). 200 tasks stopped at once made 200 instances and
        200 connections; a few reporters reuse a few, and still overlap the
        round trips (one alone waits for each in turn)."""
        with self._reports_lock:
            self._reports.append(report)
            if len(self._reporters) < min(REPORTERS, len(self._reports)):
                reporter = greenabc.spawn(self._run_reports)
                self._reporters.add(reporter)

    def _run_reports(self) -> None:
        while True:
            with self._reports_lock:
                if not self._reports:
                    self._reporters.discard(greenabc.current_task())
                    return
                report = self._reports.popleft()
            try:
                report()
            except Exception:  # the next report still runs
                logger.exception("greenabc: reporting a stopped task failed")

    def _wait_reports(self) -> None:
        """Wait (bounded) until every stopped task's failure is reported."""
        deadline = monotonic() + REPORT_BOUND
        while True:
            with self._reports_lock:
                reporters = list(self._reporters)
            if not reporters:
                return
            if not reporters[0].wait(max(deadline - monotonic(), 0.0)):
                logger.warning(
                    "greenabc: %d stopped task(s) not reported within %g s",
                    len(self._reports),
                    REPORT_BOUND,
                )
                return

    def on_terminate(self) -> None:
        """Cold shutdown: stop every task now, each reported ``WorkerLostError``."""
        if self._pool is None:
            return
        if self._clock is not None:
            self._clock.close()
        self._stopping = "cold shutdown: the worker was terminated"
        self._drop_backlog()
        self._pool.close(0)
        self._wait_reports()

    def on_close(self) -> None:
        """The worker's shutdown begins (Celery closes every step before it
        stops any): end the control loops run by ``spawn_n``. Celery's green
        control loop (``gPidbox``) sees its stop only between 1-s drains of
        the broker, and the worker waits for it before it stops the pool;
        ended here, its ``finally`` tells the worker at once."""
        for loop in list(self._spawned):  # each one's end discards it
            loop.kill(block=False)

    def restart(self) -> None:
        raise NotImplementedError("greenabc's Celery pool has no processes to restart")

    def spawn_n(self, fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` now, outside the pool's bound, without
        blocking: the worker's green control loop (``gPidbox``) runs here."""
        loop = greenabc.spawn(fn, *args, **kwargs)
        self._spawned.add(loop)
        loop.add_done_callback(self._spawned.discard)

    # -- applying tasks --------------------------------------------------------

    def on_apply(
        self,
        target: Callable[..., Any],
        args: Any = None,
        kwargs: Any = None,
        callback: Callable[..., object] | None = None,
        accept_callback: Callable[..., object] | None = None,
        error_callback: Callable[..., object] | None = None,
        timeout_callback: Callable[..., object] | None = None,
        timeout: float | None = None,
        soft_timeout: float | None = None,
        correlation_id: str | None = None,
        **_: Any,
    ) -> _Job:
        assert self._pool is not None, "the pool was not started"
        timeout = self.timeout if timeout is None else timeout
        soft_timeout = self.soft_timeout if soft_timeout is None else soft_timeout
        job = _Job(
            self,
            correlation_id,
            _task_name(args, correlation_id),
            callback,
            error_callback,
            accept_callback,
            timeout_callback,
            timeout or None,
            soft_timeout or None,
        )
        pool = self._pool

        def start() -> None:
            job.task = pool.apply_async(
                target,
                args or (),
                kwargs or None,
                callback=job.on_success,
                error_callback=job.on_error,
                accept_callback=job.on_accept,
                timeout=job.timeout,
                soft_timeout=job.soft_timeout,
                timeout_callback=job.on_timeout,
                soft_timeout_exc=SoftTimeLimitExceeded,
                soft_timeout_callback=job.on_soft_timeout,
            )

        if self._backlog is None:
            start()  # green: waits for a slot, as Celery's own green pools do
        else:
            self._backlog.submit(start)
        return job

    # -- killing ---------------------------------------------------------------

    def terminate_job(self, pid: int, signal: Any = None) -> None:
        """``revoke(terminate=True)``: *pid* is the greenabc Task id the worker
        got at accept time (see ``_Job``)."""
        job = self._running.get(pid)
        if job is not None:
            self._kill(job, "revoke", signal)

    def _kill(self, job: _Job, why: str, signal: Any) -> None:
        task = job.task
        if task is None or task.ready():
            return
        name = _signal_name(signal)
        if job.kill_reason is None:
            job.kill_reason = Terminated(
                f"task {job.celery_id} (greenabc task {task.id}) terminated by {why}"
                f"{f' with {name}' if name else ''} while it ran"
            )
        logger.info("greenabc: %s", job.kill_reason)
        kill = task.kill
        if greenabc.current_task() is not task:
            kill(block=False)
        else:
            # Celery terminates a task revoked before it was accepted from its
            # on_accepted, inside the task. Killed from there, the task is
            # reported in its own thread, where (on threads) the interrupt of
            # the kill lands and cuts the report off: kill it from elsewhere.
            greenabc.spawn(kill, block=False)

    def _unexplained_kill(self, job: _Job, exc: BaseException) -> BaseException:
        number = job.task.id if job.task is not None else "?"
        if self._stopping is not None:
            why = f"stopped by the worker's {self._stopping}"
        else:
            why = f"killed: {exc}"
        lost: BaseException = WorkerLostError(f"task {job.label} (greenabc task {number}) {why}")
        return lost

    # -- autoscale ---------------------------------------------------------------

    def grow(self, n: int = 1) -> None:
        assert self._pool is not None
        self._pool.resize(self.limit + n)  # wakes a blocked apply at once
        self.limit += n
        if self._backlog is not None:
            self._backlog.resize(n)

    def shrink(self, n: int = 1) -> None:
        assert self._pool is not None
        if self.limit - n < 1:
            raise ValueError(f"cannot shrink the pool below 1 (it runs {self.limit} at once)")
        self._pool.resize(self.limit - n)  # idle workers retire as tasks finish
        self.limit -= n
        if self._backlog is not None:
            self._backlog.resize(-n)

    @property
    def num_processes(self) -> int:
        return int(self.limit)

    # -- inspect stats -----------------------------------------------------------

    def _get_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super()._get_info()
        stats = self._pool.stats() if self._pool is not None else {}
        info.update(
            {
                "max-concurrency": self.limit,
                "backend": self.backend.name,
                "free-threads": max(self.limit - stats.get("accepted", 0), 0),
                "running-threads": stats.get("running", 0),
                "waiting-to-start": len(self._backlog) if self._backlog is not None else 0,
                "greenabc": stats,
            }
        )
        return info


def _task_name(args: Any, celery_id: str | None) -> str | None:
    """The task's name, when *args* are those of Celery's trace function:
    ``(name, id, request, body, ...)``."""
    if isinstance(args, tuple) and len(args) > 1 and args[1] == celery_id:
        name = args[0]
        if isinstance(name, str):
            return name
    return None


def _takes_return_ok(callback: Callable[..., object]) -> bool:
    # The worker's handler is a bound method (Request.on_failure): one answer
    # per function, since a shutdown asks once per stopped task.
    function = getattr(callback, "__func__", None)
    if function is not None and function in _RETURN_OK:
        return _RETURN_OK[function]
    try:
        inspect.signature(callback).bind(None, return_ok=True)
    except (TypeError, ValueError):
        takes = False
    else:
        takes = True
    if function is not None:
        with contextlib.suppress(TypeError):  # not weakly referenceable: not kept
            _RETURN_OK[function] = takes
    return takes


_RETURN_OK: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _signal_name(signal: Any) -> str | None:
    if signal is None:
        return None
    try:
        import signal as signals

        return signals.Signals(int(signal)).name
    except (ValueError, TypeError):
        return str(signal)
