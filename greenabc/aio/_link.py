"""One event loop and one engine thread, and the hand-offs between them.

Each way, calls go on a queue and the far thread is woken once per batch
(one ``loop.call_soon_threadsafe``, one portal call), not once per call:
10,000 green tasks finishing at once wake the loop a few times, not 10,000.
The engine side is called in place (a *direct* link) on threads, where every
thread is an engine thread, and where the loop runs on the engine thread's
own hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .._core._backend import EngineBackend
from ..interfaces import Portal, SyncLock

logger = logging.getLogger("greenabc")


class Batch:
    """Calls for one thread, queued from any thread: *post* wakes that
    thread to run them all, once per batch."""

    __slots__ = ("_calls", "_closed", "_post", "_run_all", "_scheduled")

    def __init__(self, post: Callable[[Callable[[], object]], object]) -> None:
        self._calls: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._post = post
        # True from a post until its run starts. Read and written without a
        # lock: a race costs one extra (empty) run, never a lost call, since
        # every call is queued before the flag is read and the run clears
        # the flag before it takes the first call.
        self._scheduled = False
        self._closed = False
        self._run_all = self._run  # bound once: the batch lives as long as its loop

    def call(self, fn: Callable[..., object], /, *args: Any) -> None:
        """Run ``fn(*args)`` in the batch's thread, after the calls before.
        RuntimeError if its loop is closed (then ``fn`` ran here already:
        every call knows what to do on a closed loop)."""
        self._calls.append((fn, args))
        if self._closed:
            self._run()  # nobody else will
            raise RuntimeError("Event loop is closed")
        if not self._scheduled:
            try:
                self._scheduled = True
                self._post(self._run_all)
            except RuntimeError:  # the loop is closed
                self.close()
                raise
            except BaseException:  # interrupted: no run is owed to this post
                self._scheduled = False
                raise

    def _run(self) -> None:
        self._scheduled = False
        calls = self._calls
        # The calls queued now; any later one posted another run (the flag
        # is clear): the loop's other callbacks get their turn in between.
        for _ in range(len(calls)):
            try:
                fn, args = calls.popleft()
            except IndexError:  # taken by close() in another thread
                return
            try:
                fn(*args)
            except Exception:
                if not self._closed:  # (on a closed loop: the expected RuntimeError)
                    logger.exception("greenabc.aio: a call handed across threads (%r) raised", fn)

    def close(self) -> None:
        """Refuse more calls; run the queued ones now, here."""
        self._closed = True
        while self._calls:
            self._run()


class Link:
    """A loop and the engine thread its calls go to (and come back from):
    what a coroutine that ``run`` started, and a function that ``run_sync``
    runs, find in the context variable ``origin``."""

    __slots__ = ("backend", "direct", "lock", "loop", "portal", "to_engine", "to_loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        to_loop: Batch,
        backend: EngineBackend,
        portal: Portal,
        direct: bool,
    ) -> None:
        self.loop = loop
        self.backend = backend
        #: The engine thread's portal (where run_sync starts green tasks).
        self.portal = portal
        #: Into the loop's thread.
        self.to_loop = to_loop
        #: The engine side is called in place: on threads, and from a loop
        #: on this engine thread's hub.
        self.direct = direct
        #: Into the engine thread (unused when direct).
        self.to_engine = Batch(portal.call_soon)
        #: For a run_sync call's hand-over between threads; never held across a switch.
        self.lock: SyncLock = backend.engine.core_lock()

    def engine_call(self, fn: Callable[..., object], /, *args: Any) -> None:
        """Run ``fn(*args)`` in the engine thread: in place on threads."""
        if self.direct:
            fn(*args)
        else:
            self.to_engine.call(fn, *args)


class LoopLinks:
    """What greenabc keeps per loop: the batch into its thread and its links."""

    __slots__ = ("links", "to_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.to_loop = Batch(loop.call_soon_threadsafe)
        #: Per backend, the links to the engine threads seen (a few at most).
        self.links: dict[EngineBackend, list[Link]] = {}


#: Where a loop's LoopLinks is kept: an attribute of the loop, so it goes
#: with the loop (a weak mapping could not: its batch holds the loop).
_ATTRIBUTE = "_greenabc_aio_links"
#: Links kept per loop and backend; past these (engine threads that come and
#: go), each call gets a link of its own.
KEPT = 8


def _kept(loop: asyncio.AbstractEventLoop, backend: EngineBackend) -> tuple[LoopLinks, list[Link]]:
    kept: LoopLinks | None = getattr(loop, _ATTRIBUTE, None)
    if kept is None:
        kept = LoopLinks(loop)
        with contextlib.suppress(AttributeError):  # no __dict__: a batch per link
            setattr(loop, _ATTRIBUTE, kept)
    links = kept.links.get(backend)
    if links is None:
        links = kept.links[backend] = []
    return kept, links


def _new(
    loop: asyncio.AbstractEventLoop,
    kept: LoopLinks,
    links: list[Link],
    backend: EngineBackend,
    portal: Portal,
    direct: bool,
) -> Link:
    link = Link(loop, kept.to_loop, backend, portal, direct)
    if len(links) < KEPT:
        links.append(link)
    return link


def link_for(loop: asyncio.AbstractEventLoop, backend: EngineBackend, portal: Portal) -> Link:
    """The link between *loop* and the engine thread of *portal* (from the
    loop's thread: run_sync). Direct on threads, and where the loop runs on
    that engine thread's hub."""
    kept, links = _kept(loop, backend)
    anywhere = backend.engine.any_thread_portal() is not None
    for link in links:
        if anywhere or link.portal is portal:
            return link
    return _new(loop, kept, links, backend, portal, anywhere or portal.is_home())


def link_here(
    loop: asyncio.AbstractEventLoop,
    backend: EngineBackend,
    portal: Callable[[EngineBackend], Portal],
) -> Link:
    """The link between *loop* and the calling engine thread (run's caller);
    ``portal(backend)`` makes that thread's portal if no link has it yet.
    Direct on threads, and where the loop runs on this thread's hub."""
    kept, links = _kept(loop, backend)
    anywhere = backend.engine.any_thread_portal() is not None
    for link in links:
        if anywhere or link.portal.is_home():
            return link
    home: Portal | None = getattr(loop, "_greenabc_home", None)  # a HubLoop's
    direct = anywhere or (home is not None and home.is_home())
    return _new(loop, kept, links, backend, portal(backend), direct)


def close_links(loop: asyncio.AbstractEventLoop) -> None:
    """After *loop* closed: run what is still queued for it (in its thread),
    and refuse more."""
    kept: LoopLinks | None = getattr(loop, _ATTRIBUTE, None)
    if kept is not None:
        kept.to_loop.close()
