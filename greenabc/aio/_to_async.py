"""From green code to a coroutine: ``run(async_fn, *args)`` runs it on an
event loop and waits for its outcome; only the caller waits."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .._core._async_interrupt import shield_dropping, unshield
from .._core._backend import EngineBackend
from .._core._task import _current
from ..interfaces import Portal, SyncEvent
from ._context import NO_TASK, engine_backend, origin
from ._link import Link, link_here
from ._loop import CANCEL_GRACE, shared_loop
from ._selectors import ParkingSelector

T = TypeVar("T")

logger = logging.getLogger("greenabc")

#: On threads an interrupt lands only between bytecodes, never inside a C
#: wait: the caller waits in steps this long (the latency of a kill there).
THREAD_WAIT_STEP = 0.02
#: A green caller waits in steps too: the step's timer keeps gevent's hub
#: from taking a wait on a foreign thread for a deadlock (LoopExit).
GREEN_WAIT_STEP = 1.0


def run(async_fn: Callable[..., Awaitable[T]], /, *args: Any, backend: str | None = None) -> T:
    """Run ``async_fn(*args)`` on an event loop and return its result (or
    raise its exception, ``SystemExit`` and ``KeyboardInterrupt`` included).

    From green or synchronous code: a greenabc task, the main thread, any
    green thread or thread of *backend* (default: ``greenabc.get_backend()``,
    or the one of the ``run_sync`` call this runs in). Only the caller waits.
    Inside a function that ``run_sync`` runs, the loop is the one awaiting
    it; elsewhere greenabc's own loop, started on first use (on the hub of
    a patched green engine, in an OS thread of its own otherwise) and
    stopped at exit. The coroutine sees the caller's context
    variables (a copy).

    If the caller is interrupted while it waits (a kill or a hard or soft
    timeout of its task, a ``greenabc.timeout`` scope, ``KeyboardInterrupt``),
    the coroutine is cancelled and waited for up to ``CANCEL_GRACE`` seconds,
    then the interrupt is raised in the caller; the coroutine's late result is
    discarded.
    """
    came_from = origin.get(None)
    chosen = engine_backend(backend, came_from)
    engine = chosen.engine
    if came_from is not None and not came_from.loop.is_closed():
        loop = came_from.loop
    else:
        loop = shared_loop(chosen, _caller_portal)
    if asyncio._get_running_loop() is loop and _on_loop(loop):
        raise RuntimeError(
            "greenabc.aio.run() called from the event loop it would run on: await instead"
        )
    link = link_here(loop, chosen, _caller_portal)
    done = engine.core_event()
    call = _Call(link, async_fn, args, done)
    green = chosen.capabilities.can_interrupt_blocking_calls
    step = GREEN_WAIT_STEP if green else THREAD_WAIT_STEP
    # Set first: an interrupt landing in the hand-off (on threads at any
    # bytecode) cancels a call that may be queued already.
    queued = True
    try:
        try:
            link.to_loop.call(call.start)
        except RuntimeError:  # the loop is closed: the call never started
            queued = False
            raise
        while not done.wait(step):
            pass
    except BaseException:
        # The caller was interrupted: cancel, wait a bounded time, and raise
        # the interrupt here.
        if queued:
            _cancel(call, done, step, engine.monotonic, shielded=not green)
        raise
    ok, value = call.outcome
    call.outcome = (False, None)  # held by the frame only: no cycle through a traceback
    if ok:
        return value  # type: ignore[no-any-return]
    try:
        raise value
    finally:
        value = None  # no cycle through the traceback


class _Call:
    """One call of run: the coroutine's task on the loop and its outcome."""

    __slots__ = ("args", "cancelled", "ctx", "done", "fn", "link", "outcome", "task")

    def __init__(
        self,
        link: Link,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        done: SyncEvent,
    ) -> None:
        self.link = link
        self.fn = fn
        self.args = args
        self.done = done
        ctx = contextvars.copy_context()
        if ctx.get(origin) is not link:  # a nested call has it already
            ctx.run(origin.set, link)
        self.ctx = ctx
        self.task: asyncio.Task[tuple[bool, Any]] | None = None
        self.cancelled = False
        self.outcome: tuple[bool, Any] = (False, None)

    # In the loop's thread.

    def start(self) -> None:
        if self.cancelled:  # cancel() told the caller already
            return
        try:
            self.task = self.ctx.run(self.link.loop.create_task, _guarded(self.fn, self.args))
        except RuntimeError:  # the loop is closed: the call never starts
            self._finished(None)
            return
        self.task.add_done_callback(self._finished)

    def cancel(self) -> None:
        if self.task is None:  # not started (or never queued): its caller is told now
            self.cancelled = True
            self._finished(None)
        else:
            self.task.cancel()

    def _finished(self, task: asyncio.Task[tuple[bool, Any]] | None) -> None:
        if task is None or task.cancelled():
            self.outcome = (False, asyncio.CancelledError())
        else:
            self.outcome = task.result()
        self.fn = self.args = None  # type: ignore[assignment]
        # On threads the loop's thread sets the caller's event itself; a
        # hub's event is set in its own thread (one portal call per batch).
        link = self.link
        if link.direct:
            self.done.set()
        else:
            link.to_engine.call(self.done.set)


async def _guarded(fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> tuple[bool, Any]:
    """The coroutine, with everything it raises but its cancellation boxed:
    SystemExit or KeyboardInterrupt raised in a task stops asyncio's loop."""
    _current.set(NO_TASK)
    try:
        return True, await fn(*args)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return False, exc


def _cancel(
    call: _Call, done: SyncEvent, step: float, clock: Callable[[], float], *, shielded: bool
) -> None:
    end = clock() + CANCEL_GRACE
    # On threads the interrupt is re-sent every 10 ms and lands at any bytecode:
    # the grace is waited for shielded (the one that made us cancel is raised
    # by the caller).
    if shielded:
        shield_dropping()
    try:
        with contextlib.suppress(RuntimeError):  # a closed loop cancelled it already
            call.link.to_loop.call(call.cancel)
        _wait_cancelled(call, done, step, clock, end)
    finally:
        if shielded:
            unshield()


def _wait_cancelled(
    call: _Call, done: SyncEvent, step: float, clock: Callable[[], float], end: float
) -> None:
    while not done.is_set():
        left = end - clock()
        if left <= 0:
            logger.warning(
                "greenabc.aio.run: %r did not finish within %.1f s of its cancellation;"
                " left running, its outcome discarded",
                call.fn,
                CANCEL_GRACE,
            )
            return
        with contextlib.suppress(BaseException):  # the interrupt, sent again: cancelling
            done.wait(min(left, step))


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the caller is the code *loop* runs (its OS thread shows it
    running): on a hub, its green thread, not another one that runs while a
    coroutine waits in a blocking call."""
    selector = getattr(loop, "_selector", None)
    return not isinstance(selector, ParkingSelector) or selector.running_here()


def _caller_portal(backend: EngineBackend) -> Portal:
    """The portal of the calling engine thread."""
    engine = backend.engine
    portal = engine.any_thread_portal()
    if portal is not None:
        return portal
    home = backend._home
    if home is not None and home.is_home():
        return home
    return engine.portal()
