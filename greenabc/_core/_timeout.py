"""The timeout scope, written once over an Engine: starts on enter, nests,
``None`` means no limit, and the caller sees ``TimeoutExpired``."""

from __future__ import annotations

from types import TracebackType

from typing_extensions import Self

from ..interfaces import Cancellable, Engine, LockLike
from ._exceptions import ScopeInterrupt, TimeoutExpired
from ._validate import check_optional_seconds


class EngineTimeout:
    """``with scope:`` raises ``TimeoutExpired`` if the block outlives *seconds*.

    On expiry the code inside is interrupted with a ``BaseException`` (so
    ``except Exception:`` cannot swallow it); if it swallows it anyway, the
    scope still raises ``TimeoutExpired`` when the block ends.
    """

    __slots__ = ("_active", "_engine", "_handle", "_lock", "_target", "expired", "seconds")

    def __init__(self, engine: Engine, lock: LockLike, seconds: float | None) -> None:
        self._engine = engine
        self._lock = lock  # shared by the backend's scopes; guards fire against exit
        self.seconds = check_optional_seconds(seconds)
        self.expired = False
        self._active = False
        self._handle: Cancellable | None = None
        self._target: object = None

    def __repr__(self) -> str:
        return f"<greenabc timeout {self.seconds} s{' expired' if self.expired else ''}>"

    def __enter__(self) -> Self:
        if self._active or self._handle is not None:
            raise RuntimeError("a timeout scope can be entered only once")
        if self.seconds is not None:
            self._target = self._engine.current()
            self._active = True
            self._handle = self._engine.call_later(self.seconds, self._fire)
        return self

    def _is_active(self) -> bool:
        return self._active

    def _fire(self) -> None:
        with self._lock:
            if self._active:
                self.expired = True
                self._engine.interrupt(self._target, ScopeInterrupt, self._is_active)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        handle = self._handle
        if handle is None:
            return None
        with self._lock:
            self._active = False
            if self.expired:
                self._engine.clear_interrupt(self._target)
        handle.cancel()
        if self.expired and (exc is None or isinstance(exc, ScopeInterrupt)):
            raise TimeoutExpired(f"timed out after {self.seconds:g} s") from None
        return None
