"""From a coroutine to green code: ``await run_sync(fn, *args)`` runs
``fn(*args)`` as a greenabc task in an engine thread and awaits its outcome;
the loop never blocks. Cancelling the awaiting task kills the green one."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from .._core._backend import SPAWN_IDLE_WORKERS, UNBOUNDED, EngineBackend
from .._core._exceptions import GreenabcError
from .._core._pool import EnginePool
from .._core._task import _current
from ..interfaces import Pool, Portal, Task
from ._context import Origin, engine_backend, origin
from ._loop import CANCEL_GRACE

T = TypeVar("T")

#: Per backend: the unbounded pool run_sync's tasks run on by default.
_pools: dict[EngineBackend, EnginePool] = {}


async def run_sync(
    fn: Callable[..., T],
    /,
    *args: Any,
    pool: Pool | None = None,
    timeout: float | None = None,
    backend: str | None = None,
) -> T:
    """Run ``fn(*args)`` as a greenabc task and await its result (or its
    exception). Only the awaiting coroutine waits: the loop goes on.

    *pool*: the greenabc Pool to run on (its size bounds these calls; a full
    pool delays the start, never the loop); default: an unbounded one of
    *backend* (default: ``greenabc.get_backend()``). *timeout*: the task's
    hard timeout (``TaskTimedOut``). Cancelling the awaiting task kills the
    green one (its code is interrupted at its next switch on a green engine,
    its next bytecode on threads), waits up to ``CANCEL_GRACE`` seconds for it
    to end, and raises ``CancelledError``. ``fn`` sees the caller's context variables
    (a copy) and ``greenabc.current_task()`` is its task; ``greenabc.aio.run``
    inside it uses this loop.
    """
    loop = asyncio.get_running_loop()
    came_from = origin.get(None)
    chosen = engine_backend(backend, came_from)
    portal = came_from.portal if came_from is not None and came_from.backend is chosen else None
    job = GreenJob(loop, chosen, portal or _home(chosen), fn, args, pool, timeout)
    job.start()
    try:
        result: T = await job.future
        return result
    except asyncio.CancelledError:
        if job.future.cancelled():  # this coroutine was cancelled: stop the green side
            await job.stop()
        raise


class GreenJob:
    """One call of run_sync: a greenabc task started in an engine thread,
    its outcome posted back to the loop."""

    __slots__ = (
        "_ctx",
        "_engine_call",
        "_killed",
        "_lock",
        "_task",
        "args",
        "backend",
        "fn",
        "future",
        "loop",
        "pool",
        "timeout",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        backend: EngineBackend,
        portal: Portal,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        pool: Pool | None,
        timeout: float | None,
    ) -> None:
        self.loop = loop
        self.backend = backend
        self.fn = fn
        self.args = args
        self.pool = pool
        self.timeout = timeout
        self.future: asyncio.Future[Any] = loop.create_future()
        self._ctx = contextvars.copy_context()
        self._ctx.run(origin.set, Origin(loop, backend, portal))
        engine = backend.engine
        # On threads every thread is an engine thread: act from here.
        self._engine_call = (
            _call_here if engine.any_thread_portal() is not None else portal.call_soon
        )
        self._lock = engine.core_lock()
        self._task: Task[Any] | None = None
        self._killed = False

    # -- in the loop's thread ------------------------------------------------

    def start(self) -> None:
        if self.pool is None:  # unbounded: accepting never blocks
            self._engine_call(self._submit)
        else:  # a full pool blocks its caller: a green thread (thread) of its own
            self._engine_call(self.backend.engine.spawn, self._submit)

    async def stop(self) -> None:
        """Kill the task and wait (at most CANCEL_GRACE) for it to end."""
        ended = self.loop.create_future()
        self._engine_call(self.backend.engine.spawn, partial(self._kill, ended))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ended, CANCEL_GRACE)

    def _settle(self, task: Task[Any]) -> None:
        future = self.future
        if future.done():  # cancelled: its late outcome is discarded
            return
        try:
            future.set_result(task.get())
        except BaseException as exc:
            future.set_exception(exc)

    def _fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)

    # -- in the engine thread ------------------------------------------------

    def _submit(self) -> None:
        try:
            pool = self.pool if self.pool is not None else _pool(self.backend)
            task = pool.apply_async(self._body, timeout=self.timeout)
        except BaseException as exc:
            _post(self.loop, self._fail, exc)
            return
        with self._lock:
            self._task = task
            killed = self._killed
        if killed:
            task.kill(block=False, reason="the awaiting asyncio task was cancelled")
        task.add_done_callback(self._done)

    def _body(self) -> Any:
        if self._killed:  # cancelled while the task waited for a worker: fn never runs
            return None
        # In the worker: its own task cell, then the caller's context (a copy).
        return self._ctx.run(_call_in_task, _current.get(None), self.fn, self.args)

    def _done(self, task: Task[Any]) -> None:
        _post(self.loop, self._settle, task)

    def _kill(self, ended: asyncio.Future[None]) -> None:
        with self._lock:
            self._killed = True
            task = self._task
        if task is not None:
            task.kill(timeout=CANCEL_GRACE, reason="the awaiting asyncio task was cancelled")
        _post(self.loop, _set_once, ended)


def _call_in_task(cell: list[Any] | None, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    if cell is not None:
        _current.set(cell)  # in the call's own context copy
    return fn(*args)


def _call_here(fn: Callable[..., object], /, *args: Any) -> None:
    fn(*args)


def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits
        loop.call_soon_threadsafe(fn, *args)


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _home(backend: EngineBackend) -> Portal:
    """The engine thread green tasks start in, for a coroutine that no
    ``greenabc.aio.run`` started (a loop of the application's own)."""
    portal = backend.engine.any_thread_portal() or backend._home
    if portal is None:
        raise GreenabcError(
            f"greenabc.aio.run_sync: no engine thread of the {backend.name!r} backend is"
            " known yet; start the coroutine with greenabc.aio.run, or use the backend"
            " in its engine thread first (greenabc.sleep, an Event...)"
        )
    return portal


def _pool(backend: EngineBackend) -> EnginePool:
    pool = _pools.get(backend)
    if pool is None:
        pool = _pools[backend] = EnginePool(
            backend.engine,
            UNBOUNDED,
            backend.name,
            deadlines=backend.deadlines,
            max_idle=SPAWN_IDLE_WORKERS,
            announce=False,
        )
    return pool


def green_executor_loop(backend: EngineBackend, home: Portal) -> type[asyncio.SelectorEventLoop]:
    """A loop class whose default executor runs each call as a green task of
    *backend*, started in the engine thread *home*: on a green engine,
    asyncio's own would start ``threading.Thread`` (patched: green threads of
    a hub that never runs in the loop's thread). ``run_in_executor(None,
    fn)``, ``asyncio.to_thread`` and ``loop.getaddrinfo`` go there."""

    class GreenDefaultExecutorLoop(asyncio.SelectorEventLoop):
        def run_in_executor(  # type: ignore[override]
            self, executor: concurrent.futures.Executor | None, func: Callable[..., T], *args: Any
        ) -> asyncio.Future[T]:
            if executor is not None:
                return super().run_in_executor(executor, func, *args)
            job = GreenJob(self, backend, home, func, args, None, None)
            job.start()
            return job.future

    return GreenDefaultExecutorLoop
