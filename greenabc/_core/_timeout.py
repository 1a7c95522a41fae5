"""The timeout scope, written once over an Engine: starts on enter, nests,
``None`` means no limit, and the caller sees ``TimeoutExpired``."""

from __future__ import annotations

from types import TracebackType

from typing_extensions import Self

from ..interfaces import Cancellable, Engine, SyncLock
from ._deadlines import Deadlines
from ._exceptions import ScopeInterrupt, TimeoutExpired
from ._validate import check_optional_seconds

#: An expired scope whose block caught its interrupt is interrupted again
#: this often, until the block ends.
REINTERRUPT_INTERVAL = 0.01


def _active(scope: EngineTimeout) -> bool:
    return scope._active


def scope_deadlines(engine: Engine, lock: SyncLock) -> Deadlines:
    """The deadlines a backend keeps for all its scopes: entering one is an
    append, not an engine timer started and cancelled."""
    return Deadlines(engine, lock, EngineTimeout._fire, _active)


class EngineTimeout:
    """``with scope:`` raises ``TimeoutExpired`` if the block outlives *seconds*.

    On expiry the code inside is interrupted with a ``BaseException`` (so
    ``except Exception:`` cannot swallow it), and again at its later switches
    if it catches that anyway. Whether the block outlived its deadline is
    decided on exit by the clock, so a block that never yields (and so never
    let a timer run) still raises ``TimeoutExpired`` when it ends late.
    """

    __slots__ = (
        "_active",
        "_deadline",
        "_deadlines",
        "_engine",
        "_handle",
        "_lock",
        "_target",
        "expired",
        "seconds",
    )

    def __init__(
        self, engine: Engine, lock: SyncLock, deadlines: Deadlines, seconds: float | None
    ) -> None:
        self._engine = engine
        self._lock = lock  # shared by the backend's scopes; guards fire against exit
        self._deadlines = deadlines  # the backend's, for every scope (see scope_deadlines)
        self.seconds = check_optional_seconds(seconds)
        self.expired = False
        self._active = False
        self._deadline = 0.0
        self._handle: Cancellable | None = None  # re-interrupting, once expired
        self._target: object = None

    def __repr__(self) -> str:
        return f"<greenabc timeout {self.seconds} s{' expired' if self.expired else ''}>"

    def __enter__(self) -> Self:
        if self._target is not None:
            raise RuntimeError("a timeout scope can be entered only once")
        if self.seconds is not None:
            self._target = self._engine.current()
            with self._lock:
                self._active = True
                self._deadline = self._deadlines.add(self.seconds, self)
        return self

    def _is_active(self) -> bool:
        return self._active

    def _fire(self) -> None:
        with self._lock:
            if self._active:
                self.expired = True
                self._engine.interrupt(self._target, ScopeInterrupt, self._is_active)
                self._handle = self._engine.call_later(REINTERRUPT_INTERVAL, self._fire)

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
                    handle = self._handle
                if handle is not None:
                    handle.cancel()
                if self.expired:
                    self._engine.checkpoint()
                break
            except ScopeInterrupt:
                pass
        if not self.expired and self._engine.monotonic() >= self._deadline:
            self.expired = True  # the deadline passed while no timer could run
        if self.expired and (exc is None or isinstance(exc, ScopeInterrupt)):
            raise TimeoutExpired(f"timed out after {self.seconds:g} s") from None
        return None
