"""The event loop greenabc starts on first use: one per process, stopped at
interpreter exit. Where it runs (docs/asyncio.md says why):

* on a green engine whose ``selectors`` is patched: in a green thread of the
  home engine thread's hub (:class:`HubLoop`), so a crossing is a switch
  between green threads, not a wake-up of another OS thread;
* elsewhere (threads; a green engine left unpatched): in a real OS thread of
  its own (:class:`LoopThread`).
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import logging
import os
import selectors
import time
from collections.abc import Callable
from typing import Any

from .._core._backend import EngineBackend
from .._core._exceptions import GreenabcError
from ..interfaces import Portal
from ._link import close_links
from ._selectors import Forked, ParkingSelector, forked, unpatched_selector

logger = logging.getLogger("greenabc")

#: Seconds a cancelled coroutine (or killed green task) is waited for before
#: the caller goes on without it; also each coroutine's share at exit.
CANCEL_GRACE = 1.0


class LoopThread:
    """An asyncio loop running forever in a real OS thread (started with the
    unpatched ``_thread``), until :meth:`stop`."""

    def __init__(self, backend: EngineBackend, home: Portal) -> None:
        original = _original(backend)
        self.loop = _loop_class(backend, home)(unpatched_selector())
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

    def ready(self) -> asyncio.AbstractEventLoop:
        return self.loop

    def alive(self) -> bool:
        """True while the loop's OS thread exists."""
        return self.native_id is not None and str(self.native_id) in os.listdir("/proc/self/task")

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


class HubLoop:
    """An asyncio loop running forever in a green thread of the engine thread
    *home* (the backend's home), until :meth:`stop`. Its selector is the
    engine's: the loop waits in the hub, and the other green threads run."""

    def __init__(self, backend: EngineBackend, home: Portal) -> None:
        self.home = home
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._engine = backend.engine
        original = _original(backend)
        self._finished = original("allocate_lock")()
        self._finished.acquire()
        self._sleep: Callable[[float], None] = _original(backend, "time")("sleep")
        if home.is_home():
            self._create(backend)
        else:  # made there: the selector's watchers belong to that hub
            home.call_soon(self._create, backend)

    def ready(self) -> asyncio.AbstractEventLoop:
        """The loop, once the home engine thread has made it (at most
        ``START_WITHIN`` seconds)."""
        end = time.monotonic() + START_WITHIN
        while self.loop is None:
            if time.monotonic() > end:
                raise GreenabcError(
                    "greenabc.aio: the home engine thread did not start the event loop"
                    f" within {START_WITHIN:.0f} s (blocked by a task that never yields?)"
                )
            # Green there (its hub makes the loop meanwhile), a real sleep elsewhere.
            (self._engine.sleep if self.home.is_home() else self._sleep)(0.001)
        return self.loop

    def _create(self, backend: EngineBackend) -> None:
        # In the home engine thread; switches to none.
        if self._stopping:  # stopped before the home thread got to make it
            self._finished.release()
            return
        selector = ParkingSelector(selectors.DefaultSelector(), backend.engine, self.home)
        loop = _loop_class(backend, self.home)(selector)
        # Woken by switches (ParkingSelector.wake), the loop does not watch
        # its self-pipe: a loop with no socket of its own then waits on no
        # file at all (eventlet's green select re-registers each one it
        # watches on every wait).
        selector.unregister(loop._ssock)  # type: ignore[attr-defined]
        loop._greenabc_home = self.home  # type: ignore[attr-defined]  # (_link reads it)
        self._selector = selector
        backend.engine.spawn(self._main)
        self.loop = loop

    def _main(self) -> None:
        loop = self.loop
        assert loop is not None
        selector = self._selector
        try:
            while not self._stopping:
                selector.begin()
                try:
                    loop.run_forever()
                except Forked:
                    # A forked child's copy, woken by the parent's sockets: it
                    # closes its own file descriptors only, and runs nothing
                    # (its callbacks and queued calls are the parent's).
                    loop.close()
                    return
                except BaseException:  # SystemExit from a stray task: the loop goes on
                    logger.exception("greenabc.aio: the event loop's run raised")
                finally:
                    selector.end()
            try:
                _cancel_all(loop)
            except BaseException:
                logger.exception("greenabc.aio: closing the event loop raised")
            loop.close()
            close_links(loop)  # calls queued meanwhile learn the loop is closed
        finally:
            self._finished.release()

    def alive(self) -> bool:
        """True until the loop's green thread ends."""
        return bool(self._finished.locked())

    def stop(self, timeout: float) -> bool:
        """Cancel every task, close the loop, end its green thread; wait at
        most *timeout* seconds (green: the hub runs the cancellations). True
        if it ended."""
        self._stopping = True
        if self.loop is None:  # never made, and now never will be
            return True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # closed already
            return True
        sleep = self._engine.sleep if self.home.is_home() else self._sleep
        end = time.monotonic() + timeout
        while self._finished.locked():
            if time.monotonic() > end:
                return False
            sleep(0.005)
        return True


#: Seconds the first caller from another engine thread waits for the home
#: engine thread to start the loop on its hub.
START_WITHIN = 10.0


def _loop_class(backend: EngineBackend, home: Portal) -> type[asyncio.SelectorEventLoop]:
    if backend.engine.any_thread_portal() is not None:
        return asyncio.SelectorEventLoop
    from ._to_green import green_executor_loop  # (it imports this module)

    return green_executor_loop(backend, home)


def on_the_hub(backend: EngineBackend) -> bool:
    """Whether greenabc's loop for *backend* runs on a hub: a green engine
    whose ``selectors`` is patched (the loop's waits must be green)."""
    patcher = backend.patcher
    return (
        backend.engine.any_thread_portal() is None
        and patcher is not None
        and patcher.is_patched("selectors")
    )


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=CANCEL_GRACE))
    loop.run_until_complete(loop.shutdown_asyncgens())


def _original(backend: EngineBackend, module: str = "_thread") -> Callable[[str], Any]:
    """The unpatched ``module.name`` by name."""
    patcher = backend.patcher
    unpatched = {"_thread": _thread, "time": time}[module]

    def get(name: str) -> Any:
        if patcher is not None:
            try:
                return patcher.original(module, name)
            except Exception:  # a patcher that does not know it: not patched
                pass
        return getattr(unpatched, name)

    return get


_lock = _thread.allocate_lock()  # never held across a switch
_shared: LoopThread | HubLoop | None = None


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
                # The backend's home engine thread if it has one: the first
                # caller may be a to_thread worker, whose hub does not stay.
                portal = backend._home or home(backend)
                where = HubLoop if on_the_hub(backend) else LoopThread
                shared = _shared = where(backend, portal)
                atexit.register(_stop_at_exit, shared)
    return shared.ready()  # (outside the lock: the home thread may need to take it)


def _stop_at_exit(shared: LoopThread | HubLoop) -> None:
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
    _shared = None  # a thread stays in the parent; a green thread ends at its next wake-up
    _lock = _thread.allocate_lock()
    forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
