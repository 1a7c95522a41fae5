"""The selectors of greenabc's loop: an unpatched one for a loop in an OS
thread of its own, the engine's for a loop on a hub.

gevent and eventlet replace ``select`` and ``selectors`` with versions that
wait in the calling thread's hub. A loop thread runs no hub, so its loop gets
the standard library's epoll (or poll) selector, loaded afresh from the
standard library with the original ``select`` extension module. A loop on a
hub waits in the engine's, wrapped by :class:`ParkingSelector`.
"""

from __future__ import annotations

import asyncio
import asyncio.events as asyncio_events
import importlib.machinery
import importlib.util
import selectors
import sys
from collections.abc import Mapping
from time import monotonic
from types import ModuleType
from typing import Any

from ..interfaces import Engine, Portal

_cached: type[selectors.BaseSelector] | None = None


def _fresh(name: str, **inject: ModuleType) -> ModuleType | None:
    """A new copy of the standard-library module *name*, imported with
    *inject* in place of the modules of those names; None if it is built in
    (then it cannot be loaded twice)."""
    spec = importlib.machinery.PathFinder.find_spec(name)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    saved: dict[str, Any] = {key: sys.modules.get(key) for key in inject}
    sys.modules.update(inject)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module


def unpatched_selector() -> selectors.BaseSelector:
    """A new selector that waits in C, whatever was patched; the current
    ``selectors.DefaultSelector`` if ``select`` is built into the
    interpreter (then it waits in the engine's hub of the loop thread)."""
    global _cached
    if _cached is None:
        select = _fresh("select")
        copy = _fresh("selectors", select=select) if select is not None else None
        _cached = selectors.DefaultSelector if copy is None else copy.DefaultSelector
    return _cached()


class ParkingSelector(selectors.BaseSelector):
    """The engine's (patched) selector for a loop in a green thread of a hub.

    asyncio records the running loop per OS thread. While the loop's green
    thread waits in :meth:`select`, the other green threads of that OS thread
    run: they see what they saw before the loop took its turn (no running
    loop, or the one an application runs in another green thread), and the
    loop gets itself back when its wait ends. A copy inherited by a forked
    child (whose hub may wake it on the parent's sockets) ends at its next
    wake-up: see :func:`forked`.
    """

    def __init__(self, inner: selectors.BaseSelector, engine: Engine, home: Portal) -> None:
        self._inner = inner
        self._engine = engine
        self._home = home
        self._outer: asyncio.AbstractEventLoop | None = None
        self._generation = _generation
        self._turn_ends = 0.0
        self._green: object = None  # the loop's green thread
        self._parked = False
        self._waking = False
        self._idle = engine.core_event()

    def begin(self) -> None:
        """Before the loop runs (in its green thread): what the OS thread had
        running is the outer."""
        self._green = self._engine.current()
        self._outer = asyncio_events._get_running_loop()
        asyncio_events._set_running_loop(None)

    def end(self) -> None:
        """After the loop ran: give the OS thread its outer loop back."""
        asyncio_events._set_running_loop(self._outer)
        self._outer = None

    def wake(self) -> None:
        """From any thread, a callback just queued on the loop: make a
        waiting loop look at it. In the loop's own OS thread by a switch (the
        engine's interrupt, dropped if the loop woke meanwhile); from
        another, through the home engine thread's portal. (The loop's
        self-pipe is not watched: see :meth:`HubLoop._create`.)"""
        if self._home.is_home():
            self._wake_here()
        else:
            self._home.call_soon(self._wake_here)

    def _wake_here(self) -> None:
        if self._parked and not self._waking:
            self._waking = True
            self._engine.interrupt(self._green, Wake, self._is_parked)
        # Not waiting: it will see the callback when it next looks.

    def running_here(self) -> bool:
        """Whether the caller is the loop's green thread."""
        return self._engine.current() is self._green

    def _is_parked(self) -> bool:
        return self._parked

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is not None and timeout <= 0 and monotonic() < self._turn_ends:
            return []  # callbacks are ready: the loop's turn goes on
        mine = asyncio_events._get_running_loop()
        asyncio_events._set_running_loop(self._outer)
        self._parked = True
        try:
            if not self._inner.get_map():  # no file to watch: a green wait
                self._idle.wait(timeout)  # (never set: ends by its timeout or a Wake)
                return []
            return self._inner.select(timeout)
        except Wake:
            return []
        finally:
            self._parked = self._waking = False
            self._outer = asyncio_events._get_running_loop()
            asyncio_events._set_running_loop(mine)
            self._turn_ends = monotonic() + TURN
            if self._generation != _generation:
                raise Forked

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


#: Seconds a loop on a hub runs its ready callbacks without a look at the hub;
#: then the other green threads and the I/O get their turn.
TURN = 0.001


class Wake(BaseException):
    """Thrown into a waiting loop's green thread: a callback is ready."""


class Forked(BaseException):
    """Raised out of a forked child's copy of a loop on a hub: it ends there."""


#: Counts the forks this process came through.
_generation = 0


def forked() -> None:
    """In a forked child: the copies of the loops on a hub end at their next wake-up."""
    global _generation
    _generation += 1
