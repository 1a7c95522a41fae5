"""A Celery worker pool on greenabc: gevent, eventlet and threads alike.

::

    CELERY_CUSTOM_WORKER_POOL=greenabc.contrib.celery:TaskPool \\
      python -m greenabc run --backend gevent -m celery -A proj worker -P custom -c 500

The backend is ``greenabc.get_backend()``: ``$GREENABC_BACKEND``, else the
engine ``python -m greenabc run --backend NAME`` patched, else ``threads``.
Over Celery's own ``-P gevent`` / ``-P eventlet`` it adds, on every backend:

* hard and soft time limits (``TimeLimitExceeded`` on time, the task stopped;
  Celery's own ``SoftTimeLimitExceeded`` raised inside the task);
* a decided outcome is final: a task that outlives its time limit or its
  revoke (it catches ``BaseException``) cannot store a late result over it;
* ``revoke(terminate=True)`` ends the task REVOKED, with no success event;
* a bounded warm shutdown: running tasks get
  ``$GREENABC_CELERY_SHUTDOWN_TIMEOUT`` seconds (default 10), the rest are
  stopped and reported failed with ``WorkerLostError``;
* ``--autoscale`` / ``pool_grow`` / ``pool_shrink`` through ``Pool.resize``,
  ``celery inspect stats`` with greenabc's counters, and the worker's Timer
  (ETA tasks, heartbeats) on greenabc's timers.

Only greenabc's public API is used here; the core never imports Celery.
See ``docs/celery.md``.
"""

from __future__ import annotations

import functools
import heapq
import logging
import os
import sys
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery.concurrency import base
from celery.exceptions import SoftTimeLimitExceeded, Terminated
from kombu.asynchronous import timer as kombu_timer

import greenabc

__all__ = ["SHUTDOWN_TIMEOUT_ENV", "TaskPool", "Timer", "install_late_write_guard"]

logger = logging.getLogger("greenabc.celery")

#: Seconds a warm shutdown (SIGTERM) gives running tasks before they are
#: stopped and reported failed with ``WorkerLostError``.
SHUTDOWN_TIMEOUT_ENV = "GREENABC_CELERY_SHUTDOWN_TIMEOUT"
DEFAULT_SHUTDOWN_TIMEOUT = 10.0

#: The result-backend methods that write a task's state (and, for the
#: ``mark_as_*`` ones, fire chord parts, chains and errbacks). Called from
#: inside a task whose outcome greenabc already decided, they are dropped.
GUARDED_METHODS = ("store_result", "mark_as_done", "mark_as_failure", "mark_as_retry")
_GUARD_FLAG = "_greenabc_late_write_guard"


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


# --------------------------------------------------------------------------
# A decided outcome is final.


def _guard(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        task = greenabc.current_task()
        if task is not None and task.ready():
            celery_id = args[0] if args else kwargs.get("task_id")
            logger.warning(
                "greenabc: dropped a late %s for task %s from inside it: its outcome"
                " was already decided (%s)",
                name,
                celery_id,
                task.outcome,
            )
            return None
        return method(self, *args, **kwargs)

    setattr(guarded, _GUARD_FLAG, True)
    return guarded


def install_late_write_guard(backend_cls: type[Any]) -> None:
    """Wrap *backend_cls*'s state-writing methods (``GUARDED_METHODS``) so that
    a call made from inside a greenabc task whose outcome is already decided
    (``greenabc.current_task().ready()``: timed out, or killed) is dropped.

    Celery stores a task's result from inside the task (``celery.app.trace``
    calls ``task.backend.mark_as_done``), so a task that catches
    ``BaseException`` and returns after its hard time limit would otherwise
    write SUCCESS over the ``TimeLimitExceeded`` failure the worker already
    stored. The class is wrapped, not an instance, because Celery keeps one
    backend instance per thread (per green thread once patched) for backends
    that are not thread-safe. Writes from anywhere else (the worker's own
    ``on_timeout`` and ``revoke`` handling) are untouched. Idempotent."""
    for name in GUARDED_METHODS:
        method = getattr(backend_cls, name, None)
        if method is None or getattr(method, _GUARD_FLAG, False):
            continue
        setattr(backend_cls, name, _guard(name, method))


# --------------------------------------------------------------------------
# The Timer: kombu's Timer API on greenabc's timers.


class Timer(kombu_timer.Timer):
    """The worker's Timer (ETA and countdown tasks, heartbeats, rate limits)
    on a greenabc Timer of the default backend.

    Entries are kombu ``Entry`` objects (``fun``, ``args``, ``kwargs``,
    ``cancel()``); ``queue`` lists them as ``(eta, priority, entry)`` in
    deadline order, as ``celery inspect scheduled`` expects. Each due entry
    runs in a green thread (or thread) of its own, since the worker's timer
    callbacks may block (an ETA task waits for a free slot in the pool).
    """

    def __init__(
        self,
        max_interval: float | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        on_tick: Callable[[float], object] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_interval=max_interval, on_error=on_error, **kwargs)  # type: ignore[no-untyped-call]
        self.on_tick = on_tick
        self._timer = greenabc.get_timer()
        self._lock = threading.Lock()
        # id(entry) -> [eta, priority, entry, greenabc entry, interval or None]
        self._scheduled: dict[int, list[Any]] = {}

    # kombu's call_at / call_after / enter_at / enter_after all end here.
    def _enter(self, eta: Any, priority: Any, entry: Any, push: Any = None) -> Any:
        handle = self._timer.call_after(max(eta - monotonic(), 0.0), self._fire, entry)
        with self._lock:
            old = self._scheduled.get(id(entry))
            self._scheduled[id(entry)] = [eta, priority, entry, handle, None]
        if old is not None and old[2] is entry and old[3] is not handle:
            old[3].cancel()  # the same entry entered again: one schedule per entry
        return entry

    def call_repeatedly(
        self,
        secs: float,
        fun: Callable[..., object],
        args: Any = (),
        kwargs: dict[str, Any] | None = None,
        priority: int = 0,
    ) -> Any:
        entry = self.Entry(fun, args, kwargs or {})  # type: ignore[no-untyped-call]
        secs = float(secs)
        handle = self._timer.call_repeatedly(secs, self._fire, entry)
        with self._lock:
            self._scheduled[id(entry)] = [monotonic() + secs, priority, entry, handle, secs]
        return entry

    def _fire(self, entry: Any) -> None:
        # In the engine's scheduler: must not block.
        with self._lock:
            record = self._scheduled.get(id(entry))
            if record is None or record[2] is not entry:
                return
            if entry.canceled:
                del self._scheduled[id(entry)]
                record[3].cancel()
                return
            if record[4] is None:
                del self._scheduled[id(entry)]
            else:
                record[0] = monotonic() + record[4]
        greenabc.spawn(self.apply_entry, entry)

    def cancel(self, tref: Any) -> None:
        try:
            tref.cancel()
        except Exception:
            return
        with self._lock:
            record = self._scheduled.get(id(tref))
            if record is not None and record[2] is tref:
                del self._scheduled[id(tref)]
            else:
                record = None
        if record is not None:
            record[3].cancel()

    def clear(self) -> None:
        with self._lock:
            records = list(self._scheduled.values())
            self._scheduled.clear()
        for record in records:
            record[3].cancel()

    def stop(self) -> None:
        self.clear()
        self._timer.stop()

    def ensure_started(self) -> None:
        """The greenabc timer needs no start (timer2.Timer's API)."""

    def __len__(self) -> int:
        return len(self._scheduled)

    def __bool__(self) -> bool:
        return True

    @property
    def queue(self) -> list[Any]:
        with self._lock:
            records = [r for r in self._scheduled.values() if not r[2].canceled]
        return [
            kombu_timer.scheduled(eta, priority, entry)
            for eta, priority, entry, _, _ in heapq.nsmallest(
                len(records), records, key=lambda r: r[0]
            )
        ]


# --------------------------------------------------------------------------
# The pool.


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
        callback: Callable[..., object] | None,
        error_callback: Callable[..., object] | None,
        accept_callback: Callable[..., object] | None,
        timeout_callback: Callable[..., object] | None,
        timeout: float | None,
        soft_timeout: float | None,
    ) -> None:
        self.pool = pool
        self.celery_id = celery_id
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
            exc = self.kill_reason or self.pool._unexplained_kill(self, exc)
        elif not isinstance(exc, Exception):
            # What Celery's apply_target does with a BaseException.
            exc = WorkerLostError(f"task {self.celery_id} raised {exc!r}")
        if self.error_callback is not None:
            self.error_callback(_exception_info(exc))

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
        if self.task is not None:
            self.pool._running.pop(self.task.id, None)


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
        self._pool: greenabc.Pool | None = None
        self._running: dict[int, _Job] = {}  # greenabc task id ("pid") -> job
        self._stopping: str | None = None

    # -- life cycle ----------------------------------------------------------

    def on_start(self) -> None:
        self._pool = self.backend.create_pool(self.limit)
        if self.app is not None:
            self._guard_backends()
        logger.info(
            "greenabc: Celery pool on %s, %d at once, warm shutdown bound %g s",
            self.backend.name,
            self.limit,
            self.shutdown_timeout,
        )

    def _guard_backends(self) -> None:
        classes = {type(self.app.backend)}
        for task in list(self.app.tasks.values()):
            own = getattr(task, "_backend", None)
            if own is not None:
                classes.add(type(own))
        for cls in classes:
            install_late_write_guard(cls)

    def on_stop(self) -> None:
        """Warm shutdown: wait up to the bound, then stop what is left; each
        stopped task is reported failed with ``WorkerLostError``."""
        if self._pool is None:
            return
        self._stopping = (
            f"warm shutdown: still running {self.shutdown_timeout:g} s after the worker"
            f" was asked to stop (${SHUTDOWN_TIMEOUT_ENV})"
        )
        if not self._pool.close(self.shutdown_timeout):
            logger.warning(
                "greenabc: warm shutdown stopped the tasks still running after %g s",
                self.shutdown_timeout,
            )

    def on_terminate(self) -> None:
        """Cold shutdown: stop every task now, each reported ``WorkerLostError``."""
        if self._pool is None:
            return
        self._stopping = "cold shutdown: the worker was terminated"
        self._pool.close(0)

    def on_close(self) -> None:
        pass

    def restart(self) -> None:
        raise NotImplementedError("greenabc's Celery pool has no processes to restart")

    def spawn_n(self, fn: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Run ``fn(*args, **kwargs)`` now, outside the pool's bound, without
        blocking: the worker's green control loop (``gPidbox``) runs here."""
        greenabc.spawn(fn, *args, **kwargs)

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
            callback,
            error_callback,
            accept_callback,
            timeout_callback,
            timeout or None,
            soft_timeout or None,
        )
        job.task = self._pool.apply_async(
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
        task.kill(block=False)

    def _unexplained_kill(self, job: _Job, exc: BaseException) -> BaseException:
        number = job.task.id if job.task is not None else "?"
        if self._stopping is not None:
            why = f"stopped by the worker's {self._stopping}"
        else:
            why = f"killed: {exc}"
        lost: BaseException = WorkerLostError(
            f"task {job.celery_id} (greenabc task {number}) {why}"
        )
        return lost

    # -- autoscale ---------------------------------------------------------------

    def grow(self, n: int = 1) -> None:
        assert self._pool is not None
        self._pool.resize(self.limit + n)  # wakes a blocked apply at once
        self.limit += n

    def shrink(self, n: int = 1) -> None:
        assert self._pool is not None
        if self.limit - n < 1:
            raise ValueError(f"cannot shrink the pool below 1 (it runs {self.limit} at once)")
        self._pool.resize(self.limit - n)  # idle workers retire as tasks finish
        self.limit -= n

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
                "greenabc": stats,
            }
        )
        return info


def _signal_name(signal: Any) -> str | None:
    if signal is None:
        return None
    try:
        import signal as signals

        return signals.Signals(int(signal)).name
    except (ValueError, TypeError):
        return str(signal)
