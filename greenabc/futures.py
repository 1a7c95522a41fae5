"""A ``concurrent.futures`` executor on any greenabc backend.

::

    from concurrent.futures import as_completed
    from greenabc.futures import Executor

    with Executor(max_workers=100, backend="gevent") as executor:
        futures = [executor.submit(fetch, url) for url in urls]
        for future in as_completed(futures):
            print(future.result())

It behaves as the standard library's ``ThreadPoolExecutor``: ``submit`` never
blocks (pending work waits in an unbounded queue of the executor's own), at
most ``max_workers`` calls run at once, workers are started as work arrives
and reused, ``initializer(*initargs)`` runs once in each worker before its
first call, a pending future can be cancelled, and a running one is not
interrupted. The futures are standard :class:`concurrent.futures.Future`\\ s.

It is built on greenabc's public API only: each worker is one long-lived task
of a greenabc Pool of ``max_workers`` slots, so the pool never has to block a
``submit`` (a greenabc ``spawn`` blocks while the pool is full).

On gevent and eventlet the process must be patched first
(``greenabc.patch(name)``): a ``Future`` waits on ``threading`` primitives,
which block the whole hub unless patched, so an Executor of a backend that
is not patched is refused with ``PatchError``.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures.thread import BrokenThreadPool
from typing import Any, TypeVar

from typing_extensions import ParamSpec

import greenabc

__all__ = ["BrokenPool", "Executor"]

T = TypeVar("T")
P = ParamSpec("P")

#: The standard library's logger for executors ("Exception in initializer:").
LOGGER = logging.getLogger("concurrent.futures")


class BrokenPool(BrokenThreadPool):
    """A worker's initializer failed: the executor accepts no more work and
    its pending futures fail with this. A ``BrokenThreadPool`` (so a
    ``concurrent.futures.BrokenExecutor``), as ``ThreadPoolExecutor``'s is."""


class _WorkItem:
    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self,
        future: concurrent.futures.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.future.set_exception(exc)
            del exc  # no reference cycle through the traceback
        else:
            self.future.set_result(result)


class _State:
    """What the workers share with the executor. Workers hold this, never
    the executor itself, so an executor that is dropped without ``shutdown``
    can be collected (and then its workers leave, as ``ThreadPoolExecutor``'s
    do)."""

    def __init__(self, pool: greenabc.Pool) -> None:
        self.pool = pool
        self.lock = threading.Lock()  # held for a few lines, never across a wait
        self.work: queue.Queue[_WorkItem | None] = queue.Queue()  # unbounded
        self.idle = threading.Semaphore(0)  # workers waiting for work (approximately)
        self.workers = 0  # worker tasks started; never more than pool.size
        self.shutdown = False
        self.broken: str | None = None
        self.closing = False  # pool.close() has been handed over
        self.local = threading.local()  # .worker is set inside a worker

    def fail_pending(self, exc_type: type[BaseException], message: str) -> None:
        """Fail every queued future (lock held)."""
        for item in self._take_pending():
            item.future.set_exception(exc_type(message))

    def cancel_pending(self) -> None:
        """Cancel every queued future (lock held)."""
        for item in self._take_pending():
            item.future.cancel()

    def _take_pending(self) -> list[_WorkItem]:
        items: list[_WorkItem] = []
        while True:
            try:
                item = self.work.get_nowait()
            except queue.Empty:
                return items
            if item is not None:
                items.append(item)

    def close_in_background(self) -> None:
        """Close the pool once its workers have left, without waiting here."""
        with self.lock:
            if self.closing:
                return
            self.closing = True
        # Green under a patched process; a thread on the threads backend.
        threading.Thread(
            target=self.pool.close, name="greenabc-executor-close", daemon=True
        ).start()


#: Every executor's shared state, for the interpreter-exit hook.
_states: weakref.WeakSet[_State] = weakref.WeakSet()
_interpreter_exiting = False


def _worker(
    state: _State, executor_ref: weakref.ref[Executor], initializer: Any, initargs: Any
) -> None:
    """The body of one worker: a long-lived task of the pool."""
    state.local.worker = True
    if initializer is not None:
        try:
            initializer(*initargs)
        except BaseException:
            LOGGER.critical("Exception in initializer:", exc_info=True)
            with state.lock:
                state.broken = "A worker initializer failed, the executor is not usable anymore"
                state.fail_pending(BrokenPool, state.broken)
            return
    try:
        while True:
            item = state.work.get()
            if item is not None:
                item.run()
                del item  # no stale reference to the call's arguments
                state.idle.release()
                continue
            # Leave on shutdown, at interpreter exit, or once the executor is
            # collected; pass the sentinel on to the next worker.
            if _interpreter_exiting or state.shutdown or executor_ref() is None:
                state.shutdown = True
                state.work.put(None)
                if executor_ref() is None:
                    state.close_in_background()  # nobody is left to call shutdown()
                return
    except BaseException:
        LOGGER.critical("Exception in worker", exc_info=True)


def _worker_died(exc: BaseException) -> None:
    # A worker's task ended abnormally (it catches everything itself, so only
    # a kill from outside gets here); the pool reports it, we log it.
    LOGGER.critical("greenabc executor worker ended abnormally: %r", exc)


class Executor(concurrent.futures.Executor):
    """A ``concurrent.futures.Executor`` running calls on a greenabc Pool.

    *max_workers*: calls run at once (``None``: the backend's default pool
    size; on ``threads``, ``min(32, cpu_count + 4)`` as ``ThreadPoolExecutor``).
    *backend*: a backend name (``None``: ``greenabc.get_backend()``'s choice).
    *initializer*, *initargs*: called once in each worker before its first
    call; if it raises, the executor is broken (:class:`BrokenPool`).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        backend: str | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if max_workers is not None and max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self.backend: greenabc.Backend = greenabc.get_backend(backend)
        name = self.backend.name
        if self.backend.patcher is not None and greenabc.current_backend() != name:
            # Certain to deadlock: a Future waits on threading primitives,
            # which block the whole hub unless the engine has patched them.
            raise greenabc.PatchError(
                f"Executor(backend={name!r}) needs a process that {name} has patched:"
                " its futures wait on threading primitives, which would block every"
                f" task for good. Call greenabc.patch({name!r}) first thing, or run the"
                f" program with: python -m greenabc run --backend {name} ..."
            )
        pool = self.backend.create_pool(max_workers)
        self._state = _State(pool)
        self._initializer = initializer
        self._initargs = tuple(initargs)
        _states.add(self._state)

    @property
    def max_workers(self) -> int:
        """The most calls run at once."""
        return self._state.pool.size

    def __repr__(self) -> str:
        state = self._state
        status = "broken" if state.broken else "shut down" if state.shutdown else "open"
        return (
            f"<greenabc.futures.Executor backend={self.backend.name!r}"
            f" max_workers={self.max_workers} workers={state.workers} {status}>"
        )

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; never blocks. Returns its Future."""
        state = self._state
        with state.lock:
            if state.broken:
                raise BrokenPool(state.broken)
            if state.shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if _interpreter_exiting:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            future: concurrent.futures.Future[T] = concurrent.futures.Future()
            state.work.put(_WorkItem(future, fn, args, kwargs))
            self._adjust_workers()
            return future

    submit.__doc__ = concurrent.futures.Executor.submit.__doc__

    def _adjust_workers(self) -> None:
        """Start a worker if none is idle and fewer than max_workers run
        (lock held). Never blocks: workers are started at most ``pool.size``
        times and leave only at shutdown, so a slot is always free."""
        state = self._state
        if state.idle.acquire(timeout=0):
            return
        if state.workers >= state.pool.size:
            return

        def collected(_: object, work: queue.Queue[_WorkItem | None] = state.work) -> None:
            work.put(None)  # wake the workers: they leave

        state.workers += 1
        state.pool.apply_async(
            _worker,
            (state, weakref.ref(self, collected), self._initializer, self._initargs),
            error_callback=_worker_died,
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more work. With *cancel_futures*, cancel what has not
        started. With *wait*, return once every accepted call has finished
        and the workers have stopped; without it, they stop on their own."""
        state = self._state
        with state.lock:
            state.shutdown = True
            if cancel_futures:
                state.cancel_pending()
            state.work.put(None)  # wake idle workers: they leave
        if not wait:
            state.close_in_background()
            return
        if getattr(state.local, "worker", False):
            # As ThreadPoolExecutor (a thread cannot join itself): the other
            # workers still finish, and the pool is closed after them.
            state.close_in_background()
            raise RuntimeError("cannot join current thread")
        state.pool.join()  # every worker has left
        with state.lock:
            state.closing = True
        state.pool.close()

    shutdown.__doc__ = concurrent.futures.Executor.shutdown.__doc__


def _python_exit() -> None:
    """At interpreter exit, as ``ThreadPoolExecutor``: queued work still runs,
    then the workers stop; no new work is accepted."""
    global _interpreter_exiting
    _interpreter_exiting = True
    states = list(_states)
    for state in states:
        state.work.put(None)
    for state in states:
        state.pool.join()


atexit.register(_python_exit)
