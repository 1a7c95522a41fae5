"""EngineBackend: a whole Backend built from an Engine's primitives."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from ..interfaces import Cancellable, Capabilities, Engine, Patcher, TimeoutScope
from ._deadlines import DeadlineHeap, Deadlines
from ._detect import current_backend
from ._exceptions import GreenabcError, PatchWarning
from ._pool import DEFAULT_GRACE, EnginePool
from ._primitives import PrimitivesMixin
from ._protocol import check_engine
from ._task import Task
from ._timeout import EngineTimeout
from ._timer import EngineTimer
from ._validate import check_seconds, check_size

T = TypeVar("T")

#: spawn() runs on a pool this large: bounded by memory alone.
UNBOUNDED = 2**31 - 1
#: Idle workers spawn() keeps for reuse; more than this leave.
SPAWN_IDLE_WORKERS = 256


class EngineBackend(PrimitivesMixin):
    """The Backend an adapter returns: Pool, Timer and Timeout semantics come
    from the core, the primitives from *engine*.

    *blocking_detector*, if given, is called with a threshold in seconds and
    returns a handle whose ``cancel()`` stops detection. *deadlines*, if
    given, is the engine's own scheduler as a ``DeadlineHeap`` (a thread
    engine's scheduler thread), used for everything due at a time.
    """

    def __init__(
        self,
        name: str,
        engine: Engine,
        capabilities: Capabilities,
        *,
        default_pool_size: int,
        patcher: Patcher | None = None,
        blocking_detector: Callable[[float], Cancellable] | None = None,
        deadlines: DeadlineHeap | None = None,
    ) -> None:
        check_engine(engine)  # first: a mismatch must not fail as a missing method
        self.name = name
        self.engine = engine
        #: The engine's: the version of the adapter, which the registry checks.
        self.protocol_version: int = engine.protocol_version
        self.capabilities = capabilities
        self.default_pool_size = check_size(default_pool_size, "default_pool_size")
        self.patcher = patcher
        self._blocking_detector = blocking_detector
        # Everything due at a time on this backend: task deadlines, scopes,
        # re-interrupts, timer entries. One heap: the engine's own scheduler
        # if it is one (threads), else one driven by one engine call.
        self.deadlines = Deadlines(engine) if deadlines is None else deadlines
        # A backend that patches warns once if used unpatched (checked on first
        # use, not here: greenabc.patch builds the backend before it patches).
        self._unpatched_check = patcher is not None
        self._spawn_pool: EnginePool | None = None  # spawn()'s, created on first use
        self._init_primitives()  # Event, Queue, to_thread... (see _primitives)

    def __repr__(self) -> str:
        return f"<greenabc Backend {self.name!r}>"

    def create_pool(self, size: int | None = None, *, grace: float = DEFAULT_GRACE) -> EnginePool:
        size = self.default_pool_size if size is None else check_size(size)  # before any warning
        if self._unpatched_check:
            self._warn_if_unpatched()
        return EnginePool(self.engine, size, self.name, deadlines=self.deadlines, grace=grace)

    def spawn(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Task[T]:
        """Run ``fn(*args, **kwargs)`` now, bounded by no pool; its Task has
        the pool's semantics (get, wait, kill, add_done_callback)."""
        pool = self._spawn_pool
        if pool is None:
            if self._unpatched_check:
                self._warn_if_unpatched()
            pool = self._spawn_pool = EnginePool(
                self.engine,
                UNBOUNDED,
                self.name,
                deadlines=self.deadlines,
                max_idle=SPAWN_IDLE_WORKERS,
                announce=False,
            )
        return pool.spawn(fn, *args, **kwargs)

    def create_timer(self) -> EngineTimer:
        if self._unpatched_check:
            self._warn_if_unpatched()
        return EngineTimer(self.engine, self.deadlines)

    def timeout(self, seconds: float | None) -> TimeoutScope:
        if self._unpatched_check:
            self._warn_if_unpatched()
        return EngineTimeout(self.engine, self.deadlines, seconds)

    def _warn_if_unpatched(self) -> None:
        """A green engine that is not patched runs blocking calls one after
        another: say so once, with what to do."""
        if current_backend() == self.name:
            self._unpatched_check = False
            return
        self._unpatched_check = False
        warnings.warn(
            f"the {self.name!r} backend is used but {self.name} has not patched the"
            " standard library: time.sleep, sockets and locks will block every task"
            f" in turn. Call greenabc.patch({self.name!r}) first thing, or run the"
            f" program with: python -m greenabc run --backend {self.name} ...",
            PatchWarning,
            stacklevel=_caller_outside_greenabc(),
        )

    def detect_blocking(self, threshold: float) -> Cancellable:
        threshold = check_seconds(threshold, "threshold")
        if threshold == 0:
            raise ValueError("threshold must be > 0 seconds: every hub iteration would be a report")
        if self._blocking_detector is None:
            raise GreenabcError(
                f"the {self.name!r} backend cannot detect a blocked hub"
                " (capabilities.can_detect_blocking is False); use a green backend"
            )
        return self._blocking_detector(threshold)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_outside_greenabc() -> int:
    """The ``stacklevel`` of the first caller outside greenabc, so a warning
    names the user's line whichever public function led to it."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level
