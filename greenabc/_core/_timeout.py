"""The timeout scope, written once over an Engine: starts on enter, nests,
``None`` means no limit, and the caller sees ``TimeoutExpired``."""

from __future__ import annotations

from types import TracebackType

from typing_extensions import Self

from ..interfaces import Engine
from ._deadlines import REINTERRUPT_INTERVAL, DeadlineHeap, Entry
from ._exceptions import ScopeInterrupt, TimeoutExpired
from ._validate import check_optional_seconds


class EngineTimeout:
    """``with scope:`` interrupts the block once it outlives *seconds*.

    The rule of ``gevent.Timeout``, ``asyncio.timeout()`` and trio's
    ``fail_after``: ``TimeoutExpired`` is raised when the scope's interrupt
    reached the block; a block that ended without being interrupted keeps its
    result, even if it ended late (then ``expired`` is True). Work that
    completed is never thrown away. The interrupt is a ``BaseException``, so
    ``except Exception:`` cannot swallow it, and it is sent again at the
    block's later switches if the block catches it anyway.
    """

    __slots__ = (
        "_active",
        "_deadline",
        "_deadlines",
        "_due",
        "_engine",
        "_lock",
        "_target",
        "expired",
        "seconds",
    )

    def __init__(self, engine: Engine, deadlines: DeadlineHeap, seconds: object) -> None:
        self._engine = engine
        self._deadlines = deadlines  # the backend's heap
        self._lock = deadlines.lock  # guards fire against exit
        self.seconds = check_optional_seconds(seconds)
        self._deadline = 0.0
        self.expired = False  # the deadline passed before the block ended
        self._active = False
        self._due: Entry | None = None  # the deadline, then each re-interrupt
        self._target: object = None

    def __repr__(self) -> str:
        return f"<greenabc timeout {self.seconds} s{' expired' if self.expired else ''}>"

    def __enter__(self) -> Self:
        if self._target is not None:
            raise RuntimeError("a timeout scope can be entered only once")
        if self.seconds is not None:
            self._target = self._engine.current()
            self._deadline = self._engine.monotonic() + self.seconds
            self._active = True  # before it is filed: _fire reads it under the lock
            self._due = due = [self._deadline, 0, _fire, (self,)]
            self._deadlines.file(due)
        return self

    def _is_active(self) -> bool:
        return self._active

    def _fire(self) -> None:
        with self._lock:
            if self._active:
                self.expired = True
                self._engine.interrupt(self._target, ScopeInterrupt, self._is_active)
                self._due = due = [
                    self._engine.monotonic() + REINTERRUPT_INTERVAL,
                    0,
                    _fire,
                    (self,),
                ]
                self._deadlines.file_locked(due)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self.seconds is None:
            return None
        while True:  # an interrupt sent before _active fell is raised in here at the latest
            try:
                with self._lock:
                    self._active = False  # no interrupt is sent from now on
                    if self._due is not None:
                        self._deadlines.cancel_locked(self._due)
                        self._due = None
                if self.expired:
                    self._engine.checkpoint()  # the block ended: a late interrupt is dropped
                break
            except ScopeInterrupt:
                pass
        if not self.expired and self._engine.monotonic() >= self._deadline:
            self.expired = True  # late, but not interrupted: the result stands
        if self.expired and isinstance(exc, ScopeInterrupt):
            raise TimeoutExpired(f"timed out after {self.seconds:g} s") from None
        return None


_fire = EngineTimeout._fire  # a plain function in the entry: no bound method per scope
