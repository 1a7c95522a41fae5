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
from ._context import engine_backend, origin
from ._link import Link, link_for
from ._loop import CANCEL_GRACE
from ._selectors import ParkingSelector

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
    if (
        came_from is None
        or came_from.loop is not loop
        or (backend is not None and backend != came_from.backend.name)
    ):
        came_from = _link_here(loop, came_from, backend)
    job = GreenJob(came_from, fn, args, pool, timeout)
    job.start()
    try:
        result: T = await job.future
        return result
    except asyncio.CancelledError:
        if job.future.cancelled():  # this coroutine was cancelled: stop the green side
            await job.stop()
        raise


def _link_here(
    loop: asyncio.AbstractEventLoop, came_from: Link | None, backend: str | None
) -> Link:
    """The link from *loop* to the engine thread of *backend*: the one the
    coroutine came from if it is that backend's, else the backend's home."""
    chosen = engine_backend(backend, came_from)
    if came_from is not None and came_from.backend is chosen:
        if came_from.loop is loop:
            return came_from
        return link_for(loop, chosen, came_from.portal)
    return link_for(loop, chosen, _home(chosen))


class GreenJob:
    """One call of run_sync: a greenabc task started in an engine thread,
    its outcome handed back to the loop."""

    __slots__ = ("_ctx", "_killed", "_task", "args", "fn", "future", "link", "pool", "timeout")

    def __init__(
        self,
        link: Link,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        pool: Pool | None,
        timeout: float | None,
    ) -> None:
        self.link = link
        self.fn = fn
        self.args = args
        self.pool = pool
        self.timeout = timeout
        self.future: asyncio.Future[Any] = link.loop.create_future()
        ctx = contextvars.copy_context()
        if ctx.get(origin) is not link:  # a coroutine that run() started has it already
            ctx.run(origin.set, link)
        self._ctx = ctx
        self._task: Task[Any] | None = None
        self._killed = False

    # -- in the loop's thread ------------------------------------------------

    def start(self) -> None:
        if self.pool is None:  # unbounded: accepting never blocks
            self.link.engine_call(self._submit)
        else:  # a full pool blocks its caller: a green thread (thread) of its own
            self.link.engine_call(self.link.backend.engine.spawn, self._submit)

    async def stop(self) -> None:
        """Kill the task and wait (at most CANCEL_GRACE) for it to end."""
        ended = self.link.loop.create_future()
        self.link.engine_call(self.link.backend.engine.spawn, partial(self._kill, ended))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(ended, CANCEL_GRACE)

    # -- in the engine thread ------------------------------------------------

    def _submit(self) -> None:
        try:
            pool = self.pool if self.pool is not None else _pool(self.link.backend)
            # The outcome, whichever it is, goes straight to the loop: no
            # done callback to register (that takes the pool's lock).
            task = pool.apply_async(
                self._body,
                callback=self._resolved,
                error_callback=self._rejected,
                timeout=self.timeout,
            )
        except BaseException as exc:
            self._rejected(exc)
            return
        with self.link.lock:
            self._task = task
            killed = self._killed
        if killed:
            task.kill(block=False, reason="the awaiting asyncio task was cancelled")

    def _body(self) -> Any:
        if self._killed:  # cancelled while the task waited for a worker: fn never runs
            return None
        # In the worker: its own task cell, then the caller's context (a copy).
        ctx = self._ctx
        cell = _current.get(None)
        if cell is not None:
            ctx.run(_current.set, cell)
        return ctx.run(self.fn, *self.args)

    def _resolved(self, value: Any) -> None:
        _settle_later(self.link, self.future, True, value)

    def _rejected(self, exc: BaseException) -> None:
        _settle_later(self.link, self.future, False, exc)

    def _kill(self, ended: asyncio.Future[None]) -> None:
        with self.link.lock:
            self._killed = True
            task = self._task
        if task is not None:
            task.kill(timeout=CANCEL_GRACE, reason="the awaiting asyncio task was cancelled")
        _settle_later(self.link, ended, True, None)


def _settle_later(link: Link, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """From any thread: settle *future* in the loop's thread."""
    try:  # noqa: SIM105 (once per call: contextlib.suppress would be three more)
        link.to_loop.call(_settle, future, ok, value)
    except RuntimeError:  # the loop is closed: nobody awaits
        pass


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # cancelled: its late outcome is discarded
        return
    if ok:
        future.set_result(value)
    elif isinstance(value, StopIteration):  # a future refuses it (as a coroutine would)
        error = RuntimeError(f"{type(value).__name__} raised in run_sync's function")
        error.__cause__ = value
        future.set_exception(error)
    else:
        future.set_exception(value)


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
    """greenabc's loop class on a green engine. Its default executor runs each
    call as a green task of *backend*, started in the engine thread *home*
    (asyncio's own would start ``threading.Thread``: green threads, of a hub
    that never runs in a loop thread of its own). ``run_in_executor(None,
    fn)``, ``asyncio.to_thread`` and ``loop.getaddrinfo`` go there. On a hub,
    ``call_soon_threadsafe`` wakes the loop by a switch (through the portal
    from other OS threads), not a byte through its self-pipe."""

    class GreenDefaultExecutorLoop(asyncio.SelectorEventLoop):
        def _write_to_self(self) -> None:
            selector = self._selector  # type: ignore[attr-defined]
            if isinstance(selector, ParkingSelector):
                selector.wake()
            else:
                super()._write_to_self()  # type: ignore[misc]

        def run_in_executor(  # type: ignore[override]
            self, executor: concurrent.futures.Executor | None, func: Callable[..., T], *args: Any
        ) -> asyncio.Future[T]:
            if executor is not None:
                return super().run_in_executor(executor, func, *args)
            job = GreenJob(link_for(self, backend, home), func, args, None, None)
            job.start()
            return job.future

    return GreenDefaultExecutorLoop
