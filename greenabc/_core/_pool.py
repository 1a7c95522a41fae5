"""The Pool semantics, written once over an Engine's primitives.

Workers are kept alive and handed tasks through the engine's queue (as
``ThreadPoolExecutor`` reuses threads): a new greenlet or thread costs far more
than a hand-off. ``size`` slots, counted under the pool's lock, bound the tasks
accepted at once; ``spawn`` blocks while all are taken.

The pool keeps slots, workers, its queue and its counters; each Task owns its
own state machine (``_task.py``), whose transitions the pool calls under its
lock. Deadlines and re-interrupts sit in the backend's one deadline heap.
Callbacks decided away from the worker (hard timeouts, soft timeouts) run in
one runner green thread or thread per pool, in order: a burst of expiries
starts one, not one each.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

from typing_extensions import Self

from .. import signals
from ..interfaces import Engine, SyncEvent
from ._deadlines import DeadlineHeap, Deadlines
from ._exceptions import (
    HardTimeoutInterrupt,
    Interrupt,
    KillInterrupt,
    PoolClosed,
    SoftTimeout,
    TaskKilled,
    TaskTimedOut,
)
from ._task import (
    _NO_KWARGS,
    FAILURE,
    KILLED,
    PENDING,
    SUCCESS,
    TIMED_OUT,
    Task,
    _current,
    call_logged,
    current_task,
    logger,
)
from ._validate import check_optional_seconds, check_size

T = TypeVar("T")

#: After ``close``'s deadline the rest is killed; ``close`` waits this long
#: for them to stop, then returns and logs the ones still running (a thread
#: blocked in C cannot be stopped at all).
KILL_GRACE = 0.05
#: A task still running this long after its kill or timeout is reported.
UNRESPONSIVE_AFTER = 1.0
#: How long ``with pool:`` waits for running tasks when its body raised,
#: before it kills them (``grace=`` changes it).
DEFAULT_GRACE = 10.0

_ids: Final = itertools.count(1)


class EnginePool:
    """A Pool over an :class:`~greenabc.interfaces.Engine` (see ``greenabc.interfaces.Pool``)."""

    def __init__(
        self,
        engine: Engine,
        size: object,  # the arguments users pass are checked here (typed in interfaces)
        backend_name: str,
        *,
        deadlines: DeadlineHeap | None = None,
        max_idle: int | None = None,
        grace: object = DEFAULT_GRACE,
        announce: bool = True,
    ) -> None:
        size = check_size(size)
        self.grace = check_optional_seconds(grace, "grace")
        self._engine = engine
        self._deadlines: DeadlineHeap = Deadlines(engine) if deadlines is None else deadlines
        self.backend_name = backend_name
        self._lock = engine.core_lock()
        self._size = size
        # Slots are counted under the lock; a spawn that finds none waits on
        # an event of its own, and a freed slot is handed to the first such.
        self._free = size
        self._waiters: deque[SyncEvent] = deque()
        self._debt = 0  # slots still to take back after a shrink
        self._queue = engine.core_queue()
        self._workers = 0
        self._idle = 0  # workers waiting on the queue, not yet promised a task
        self._max_idle = size if max_idle is None else max_idle  # more idle workers leave
        self._active: dict[int, Task[Any]] = {}  # accepted, not yet released
        self._busy = 0  # accepted tasks + callbacks still to run away from their worker
        self._join_events: list[tuple[SyncEvent, int]] = []  # (event, own task or not)
        # Callbacks decided away from a worker, for the pool's one runner.
        self._later: Any = None  # an engine queue, made (and its runner spawned) on first use
        self._closed = False
        self._completed = self._failed = self._timed_out = self._killed = 0
        self._announce = announce  # send the pool signals (spawn()'s hidden pool does not)
        if announce:
            signals.pool_started.send(self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<greenabc Pool {self.backend_name} size={self._size} {state}>"

    @property
    def size(self) -> int:
        return self._size

    # -- accepting work -------------------------------------------------

    def spawn(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Task[T]:
        """Run ``fn(*args, **kwargs)``; blocks while the pool is full."""
        return self.apply_async(fn, args, kwargs)

    def apply_async(
        self,
        fn: Callable[..., T],
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        callback: Callable[[T], object] | None = None,
        error_callback: Callable[[BaseException], object] | None = None,
        accept_callback: Callable[[Task[T]], object] | None = None,
        timeout: object = None,
        soft_timeout: object = None,
        timeout_callback: Callable[[BaseException], object] | None = None,
        soft_timeout_exc: object = SoftTimeout,
        soft_timeout_callback: Callable[[Task[T]], object] | None = None,
    ) -> Task[T]:
        """Accept ``fn(*args, **kwargs)``; blocks while the pool is full.

        Exactly one of *callback* (with the result), *error_callback* (with the
        exception, ``TaskKilled`` when killed) or *timeout_callback* (with
        ``TaskTimedOut``; *error_callback* gets it when there is none) runs
        once the outcome is known. *accept_callback* gets the task when a
        worker starts it. *timeout* and *soft_timeout* count from that start.
        When the soft deadline passes, *soft_timeout_exc* (default
        ``SoftTimeout``) is raised inside the task and *soft_timeout_callback*
        gets the task (in a green thread or thread of its own).
        """
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}: {fn!r}")
        hard = soft = None
        if timeout is not None or soft_timeout is not None:
            hard = check_optional_seconds(timeout, "timeout")
            soft = check_optional_seconds(soft_timeout, "soft_timeout")
        if soft_timeout_exc is not SoftTimeout and not (
            isinstance(soft_timeout_exc, type) and issubclass(soft_timeout_exc, BaseException)
        ):
            raise TypeError(
                f"soft_timeout_exc must be an exception class, got {soft_timeout_exc!r}"
            )
        if self._closed:
            raise PoolClosed(f"{self!r} is closed: create a new pool to run more work")
        task: Task[T] = Task(
            self,
            next(_ids),
            fn,
            args if type(args) is tuple else tuple(args),
            dict(kwargs) if kwargs else _NO_KWARGS,  # never mutated
            callback,
            error_callback,
            accept_callback,
            hard,
            soft,
            timeout_callback,
            soft_timeout_exc,
            soft_timeout_callback,
        )
        with self._lock:
            if self._closed:
                raise PoolClosed(f"{self!r} is closed: create a new pool to run more work")
            if self._free:  # _admit(), inlined: this is the common case
                self._free -= 1
                self._active[task.id] = task
                self._busy += 1
                if self._idle:
                    self._idle -= 1
                    new_worker = False
                else:
                    self._workers += 1
                    new_worker = True
            else:
                waiter = self._engine.core_event()
                self._waiters.append(waiter)
                new_worker = None
        if new_worker is None:
            self._wait_for_slot(waiter)
            with self._lock:
                if self._closed:  # closed after the slot was handed over
                    self._free_slot()
                    raise PoolClosed(f"{self!r} was closed while this spawn waited for a slot")
                new_worker = self._admit(task)
        self._queue.put(task)
        if new_worker:
            self._engine.spawn(self._work)
        if signals.pool_apply.receivers and self._announce:
            signals.pool_apply.send(self, task=task)
        return task

    def _admit(self, task: Task[Any]) -> bool:
        """Count in *task*, which holds a slot; True if it needs a new
        worker. With the lock held."""
        self._active[task.id] = task
        self._busy += 1
        if self._idle:
            self._idle -= 1
            return False
        self._workers += 1
        return True

    def _wait_for_slot(self, waiter: SyncEvent) -> None:
        """Wait until a slot is handed to *waiter*; raise ``PoolClosed`` if the
        pool closes first. Unbounded by design, like a full queue's put."""
        try:
            waiter.wait()
        except BaseException:  # interrupted (a kill, a scope): withdraw
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif not self._closed:
                    self._free_slot()  # it was handed one: pass it on
            raise
        if self._closed:  # close() woke every waiter
            raise PoolClosed(f"{self!r} was closed while this spawn waited for a slot")

    def _free_slot(self) -> None:
        """A slot is free: to a shrink's debt, a waiting spawn, or the
        count. With the lock held."""
        if self._debt:
            self._debt -= 1
        elif self._waiters:
            self._waiters.popleft().set()
        else:
            self._free += 1

    # -- the worker -------------------------------------------------------

    def _work(self) -> None:
        me = self._engine.current()
        cell: list[Task[Any] | None] = [None]  # current_task() in this worker
        _current.set(cell)
        while True:  # a new worker has a task waiting for it
            task = self._queue.get()
            if task is None:
                return
            try:
                stay = self._run(task, me, cell)
            except BaseException:
                logger.exception("greenabc: worker of %r failed", self)
                with self._lock:
                    stay = self._idle_or_leave()
            task = None  # an idle worker holds no finished task
            if not stay:
                return

    def _idle_or_leave(self) -> bool:
        """Once a task is done with: wait for the next, or leave if the pool
        shrank or has idle workers enough. With the lock held."""
        if self._workers > self._size or self._idle >= self._max_idle:
            self._workers -= 1
            return False
        self._idle += 1
        return True

    def _run(self, task: Task[Any], me: object, cell: list[Task[Any] | None]) -> bool:
        """Run *task*; True if this worker stays for another."""
        with self._lock:
            if not task._start(me):  # killed while queued
                self._release(task)
                return self._idle_or_leave()
        cell[0] = task
        try:
            if task.accept_callback is not None:
                call_logged("accept_callback", task.accept_callback, task)
            if task.kwargs is _NO_KWARGS:  # no dict to copy for the call
                value = task.fn(*task.args)
            else:
                value = task.fn(*task.args, **task.kwargs)
            ok = True
        except BaseException as exc:  # an interrupt too: the outcome is decided below
            value = exc
            ok = False
        cell[0] = None
        while True:
            try:
                stay = self._finish(task, ok, value)
                break
            except BaseException:
                # An interrupt sent just before fn returned landed on the way
                # in (it is raised at a Python call on threads): try again.
                if not task.running():
                    raise
        # The exception's traceback holds this frame: drop what it refers to,
        # so a finished task is freed by reference counting alone.
        task = value = None  # type: ignore[assignment]
        return stay

    def _finish(self, task: Task[Any], ok: bool, value: Any) -> bool:
        """Settle and release *task*; True if this worker stays for another.
        The common case is one lock section, with no call but the Task's."""
        settled = drained = False
        while True:  # twice at most: once more after draining a pending interrupt
            try:
                with self._lock:
                    outcome = task._finish(ok, value, drained)
                    if outcome is not PENDING:  # no interrupt may be pending: settled now
                        settled = True
                        if outcome is SUCCESS:
                            self._completed += 1
                        elif outcome is FAILURE:
                            self._failed += 1
                        elif outcome is TIMED_OUT:
                            self._timed_out += 1
                        if not self._release(task, outcome is not None):
                            # _idle_or_leave(), inlined: the common case
                            if self._workers > self._size or self._idle >= self._max_idle:
                                self._workers -= 1
                                return False
                            self._idle += 1
                            return True
                if not settled:  # one sent before FINISHING is raised here at the latest
                    self._engine.checkpoint()
            except BaseException:
                if settled:
                    raise
            if settled:  # its listeners still to hear
                break
            drained = True
        # The slot is free already, so a callback may spawn on this pool;
        # join() still waits for the callbacks.
        task._announce()
        with self._lock:
            self._done_busy()
            return self._idle_or_leave()

    def _release(self, task: Task[Any], decided_here: bool = False) -> bool:
        """Give the task's slot back; with the lock held. True if its outcome,
        *decided_here*, has listeners to announce it to (then the task still
        counts as busy until that is done), else it is no longer busy."""
        announce = task._release() and decided_here
        del self._active[task.id]
        if self._debt or self._waiters:
            self._free_slot()
        else:
            self._free += 1
        if not announce:
            self._busy -= 1
            if self._busy <= 1 and self._join_events:
                self._wake_joiners()
        return announce

    def _done_busy(self) -> None:
        self._busy -= 1
        if self._busy <= 1 and self._join_events:
            self._wake_joiners()

    def _wake_joiners(self) -> None:
        """Wake the join() waiters the busy count now satisfies; lock held."""
        waiting = []
        for event, own in self._join_events:
            if self._busy <= own:
                event.set()
            else:
                waiting.append((event, own))
        self._join_events = waiting

    # -- deciding an outcome away from the worker ---------------------------

    def _expire_hard(self, task: Task[Any]) -> None:
        # In the engine's scheduler: decide now, so the timeout is reported on
        # time even where the task cannot be interrupted.
        with self._lock:
            if not task.running():
                return
            assert task.timeout is not None
            now = self._engine.monotonic()
            if not task._decide(TIMED_OUT, TaskTimedOut(task.id, task.timeout), now):
                return
            self._timed_out += 1
            task._stop(HardTimeoutInterrupt)
            self._busy += 1  # join() waits for the callbacks too
            start = self._run_later(self._announce_timed_out, task)
        if start:
            self._engine.spawn(self._run_callbacks)

    def _announce_timed_out(self, task: Task[Any]) -> None:
        task._announce()
        with self._lock:
            self._done_busy()

    def _expire_soft(self, task: Task[Any]) -> None:
        with self._lock:
            if not task._soft_interrupt() or task.soft_timeout_callback is None:
                return
            start = self._run_later(_call_soft_timeout_callback, task)
        if start:
            self._engine.spawn(self._run_callbacks)

    def _run_later(self, fn: Callable[[Task[Any]], object], task: Task[Any]) -> bool:
        """Queue ``fn(task)`` for the pool's callback runner (callbacks may
        block, the scheduler must not); True if the runner must be spawned
        first. With the lock held."""
        first = self._later is None
        if first:
            self._later = self._engine.core_queue()
        self._later.put((fn, task))
        return first

    def _run_callbacks(self) -> None:
        """The pool's callback runner: one green thread or thread, however
        many expiries; it ends when the pool closes. A callback that blocks
        delays the next."""
        later = self._later
        while True:
            item = later.get()
            if item is None:
                return
            call_logged("callback runner", *item)
            del item

    def _reinterrupt(self, task: Task[Any], exc_type: type[Interrupt]) -> None:
        with self._lock:
            if not task.running():
                return
            task._stop(exc_type)
            late = task._overdue(self._engine.monotonic(), UNRESPONSIVE_AFTER)
        if late is not None:
            logger.warning(
                "greenabc: %r of %r still runs %.1f s after it was %s: it ignores its"
                " interrupts (a blocking call that cannot be interrupted, or code that"
                " catches BaseException) and holds a worker",
                task,
                self,
                late,
                task.outcome,
            )
            signals.task_unresponsive.send(self, task=task, seconds=late)

    def _kill_task(self, task: Task[Any], reason: str | None = None) -> None:
        with self._lock:
            if not task._decide(KILLED, TaskKilled(task.id, reason), self._engine.monotonic()):
                return
            self._killed += 1
            itself = task.running() and task._worker == self._engine.current()
            if task.running() and not itself:
                task._stop(KillInterrupt)
        task._announce()
        if itself:  # a task killing itself: its interrupt comes after the callbacks
            with self._lock:
                if task.running():
                    task._stop(KillInterrupt)

    # -- whole-pool operations ----------------------------------------------

    def map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
        """``[fn(item) for item in items]``, run concurrently, in order.
        Waits for every result (unbounded); raises the first failure in order."""
        tasks = [self.spawn(fn, item) for item in items]
        return [task.get() for task in tasks]

    def imap_unordered(self, fn: Callable[[Any], T], items: Iterable[Any]) -> Iterator[T]:
        """Yield ``fn(item)`` for each item as each finishes (waits unbounded)."""
        done = self._engine.core_queue()
        count = 0
        for item in items:
            self.spawn(fn, item).add_done_callback(done.put)
            count += 1
        for _ in range(count):
            yield done.get().get()

    def join(self, timeout: object = None) -> bool:
        """Wait until no task is running (``None``: unbounded); True if none is.
        Called from one of the pool's own tasks, it waits for the others."""
        limit = check_optional_seconds(timeout, "timeout")
        me = current_task()
        own = 1 if me is not None and me._pool is self and me.running() else 0
        with self._lock:
            if self._busy <= own or limit == 0:
                return self._busy <= own
            waiter = (self._engine.core_event(), own)
            self._join_events.append(waiter)
        if not waiter[0].wait(limit):
            with self._lock:  # timed out: leave nothing behind (join(0.01) in a loop)
                if waiter in self._join_events:
                    self._join_events.remove(waiter)
        return self._busy <= own

    def resize(self, size: object) -> None:
        """Change the number of tasks run at once; growing wakes blocked spawns
        at once, shrinking takes effect as running tasks finish."""
        size = check_size(size)
        with self._lock:
            if self._closed:
                raise PoolClosed(f"{self!r} is closed: it cannot be resized")
            grow = size - self._size
            self._size = size
            if grow > 0:
                paid = min(self._debt, grow)
                self._debt -= paid
                for _ in range(grow - paid):
                    self._free_slot()
            else:
                self._debt -= grow
                taken = min(self._debt, self._free)
                self._debt -= taken
                self._free -= taken

    def kill(self, timeout: object = None, *, reason: str | None = None) -> bool:
        """Kill every accepted task (``TaskKilled`` says *reason*); wait up
        to *timeout* (``None``: unbounded) for them to stop. The pool stays
        open. True if all stopped."""
        limit = check_optional_seconds(timeout, "timeout")
        with self._lock:
            tasks = list(self._active.values())
        for task in tasks:
            self._kill_task(task, reason)
        return self.join(limit)

    def close(self, timeout: object = None) -> bool:
        """Stop accepting work, wait up to *timeout* (``None``: unbounded) for
        running tasks, kill the rest, and stop the workers. True if everything
        finished before the deadline. Returns within *timeout* + ``KILL_GRACE``
        (plus the kills' error callbacks); tasks that have not stopped by then
        are logged and go on being interrupted until they end."""
        limit = check_optional_seconds(timeout, "timeout")
        with self._lock:
            if self._closed:
                return not self._busy
            self._closed = True
            while self._waiters:  # each raises PoolClosed
                self._waiters.popleft().set()
        if self._announce:
            signals.pool_preshutdown.send(self)
        clean = self.join(limit)
        if not clean and not self.kill(KILL_GRACE, reason=f"{self!r} closed before it ended"):
            with self._lock:
                stuck = [t for t in self._active.values() if t.running()]
            if stuck:
                logger.warning(
                    "greenabc: %r closed with %d task(s) still running after their kill: %s",
                    self,
                    len(stuck),
                    ", ".join(map(repr, stuck[:10])) + (" ..." if len(stuck) > 10 else ""),
                )
        with self._lock:
            workers = self._workers
        for _ in range(workers):
            self._queue.put(None)
        with self._lock:
            if self._later is not None:  # the runner ends after the rest; a later
                self._later.put(None)  # expiry (a task still running) starts another
                self._later = None
        if self._announce:
            signals.pool_postshutdown.send(self)
        return clean

    def stats(self) -> dict[str, int]:
        """A JSON-friendly snapshot of the pool's counters."""
        with self._lock:
            return {
                "size": self._size,
                "running": sum(1 for t in self._active.values() if t.running()),
                "accepted": len(self._active),
                "waiting": len(self._waiters),
                "completed": self._completed,
                "failed": self._failed,
                "timed_out": self._timed_out,
                "killed": self._killed,
                "workers": self._workers,
            }

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Self:
        if self._closed:
            raise PoolClosed(f"{self!r} is closed: create a new pool to use it in a with block")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Wait for every task (unbounded), then close; when the body raised,
        close within ``grace`` seconds instead: a failed body must not hang
        on the tasks it left."""
        if exc_type is None:
            self.join()
            self.close()
        else:
            self.close(self.grace)


def _call_soft_timeout_callback(task: Task[Any]) -> None:
    assert task.soft_timeout_callback is not None
    task.soft_timeout_callback(task)
