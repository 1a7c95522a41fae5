"""The event loop greenabc starts on first use: one per process, in a real
OS thread of its own, stopped at interpreter exit.

A thread of its own on every engine (docs/asyncio.md says why): asyncio
records the running loop per OS thread, so a loop there never collides with
green threads, a green task that never yields cannot stall it, and green
code can still run a loop of its own with ``asyncio.run``.
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from .._core._backend import EngineBackend
from ..interfaces import Portal
from ._link import close_links
from ._selectors import unpatched_selector

logger = logging.getLogger("greenabc")

#: Seconds a cancelled coroutine (or killed green task) is waited for before
#: the caller goes on without it; also each coroutine's share at exit.
CANCEL_GRACE = 1.0


class LoopThread:
    """An asyncio loop running forever in a real OS thread (started with the
    unpatched ``_thread``), until :meth:`stop`."""

    def __init__(self, backend: EngineBackend, home: Portal) -> None:
        original = _original(backend)
        loop_class = asyncio.SelectorEventLoop
        if backend.engine.any_thread_portal() is None:
            from ._to_green import green_executor_loop  # (it imports this module)

            # The backend's home engine thread if it has one: the first
            # caller may be a to_thread worker, whose hub does not stay.
            loop_class = green_executor_loop(backend, backend._home or home)
        self.loop = loop_class(unpatched_selector())
        self._stopping = False
        #: The loop thread's id in the kernel (/proc/self/task), once it runs.
        self.native_id: int | None = None
        self._native_id: Callable[[], int] = original("get_native_id")
        self._finished = original("allocate_lock")()
        self._finished.acquire()
        original("start_new_thread")(self._main, ())

    def _main(self) -> None:
        self.native_id = self._native_id()
        loop = self.loop
        while not self._stopping:
            try:
                loop.run_forever()
            except BaseException:  # SystemExit from a stray task: the loop goes on
                logger.exception("greenabc.aio: the event loop's run raised")
        try:
            _cancel_all(loop)
        except BaseException:
            logger.exception("greenabc.aio: closing the event loop raised")
        finally:
            loop.close()
            close_links(loop)  # calls queued meanwhile learn the loop is closed
            self._finished.release()

    def stop(self, timeout: float) -> bool:
        """Cancel every task, close the loop, end the thread; wait at most
        *timeout* seconds (in steps of ``time.sleep``: green when patched, so
        the engine serves what the cancelled coroutines still need). True if
        the thread ended."""
        self._stopping = True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed already
            return True
        end = time.monotonic() + timeout
        while not self._finished.acquire(False):
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        self._finished.release()
        return True


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=CANCEL_GRACE))
    loop.run_until_complete(loop.shutdown_asyncgens())


def _original(backend: EngineBackend) -> Callable[[str], Any]:
    patcher = backend.patcher

    def get(name: str) -> Any:
        if patcher is not None:
            try:
                return patcher.original("_thread", name)
            except Exception:  # a patcher that does not know it: not patched
                pass
        return getattr(_thread, name)

    return get


_lock = _thread.allocate_lock()  # never held across a switch
_shared: LoopThread | None = None


def shared_loop(
    backend: EngineBackend, home: Callable[[EngineBackend], Portal]
) -> asyncio.AbstractEventLoop:
    """greenabc's loop, started on first use (by *backend*, whose engine
    thread ``home(backend)`` gives the portal its default executor runs in)."""
    global _shared
    shared = _shared
    if shared is None:
        with _lock:
            shared = _shared
            if shared is None:
                shared = _shared = LoopThread(backend, home(backend))
                atexit.register(_stop_at_exit, shared)
    return shared.loop


def _stop_at_exit(shared: LoopThread) -> None:
    global _shared
    if _shared is shared:
        _shared = None
    if not shared.stop(timeout=CANCEL_GRACE + 1.0):
        logger.warning("greenabc.aio: the event loop did not stop within %.1f s", CANCEL_GRACE + 1)


def stop_shared_loop(timeout: float = CANCEL_GRACE + 1.0) -> bool:
    """Stop greenabc's loop now (the next call starts another). True if it
    ended within *timeout* seconds (or none ran)."""
    global _shared
    with _lock:
        shared, _shared = _shared, None
    if shared is None:
        return True
    atexit.unregister(_stop_at_exit)
    return shared.stop(timeout)


def _forget_after_fork() -> None:
    global _shared, _lock
    _shared = None  # its thread stayed in the parent
    _lock = _thread.allocate_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
