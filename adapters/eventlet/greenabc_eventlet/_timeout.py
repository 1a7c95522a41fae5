"""A faster timeout scope with the core's semantics, on one hub timer.

The core's ``EngineTimeout`` takes a lock on fire and on exit because on
threads the timer fires in another OS thread. Here the timer fires in the
hub, on the scope's own OS thread, and ``__exit__`` cancels it before the
block's green thread can switch again: a timer that fires is by construction
one whose block has not exited, so it interrupts at once, like
``eventlet.Timeout`` does, with no lock and no deferred delivery.

Unlike ``eventlet.Timeout``, the scope starts on enter, not on construction.
"""

from __future__ import annotations

import math
from types import TracebackType

from eventlet.hubs import get_hub
from greenlet import getcurrent, greenlet
from typing_extensions import Self

from greenabc._core._exceptions import ScopeInterrupt, TimeoutExpired
from greenabc._core._validate import check_optional_seconds

from ._engine import HubCall, schedule


class EventletTimeout:
    """``with scope:`` raises ``greenabc.TimeoutExpired`` if the block
    outlives *seconds* (``None``: no limit); starts on enter; nests.

    On expiry the block is interrupted with ``ScopeInterrupt``, a
    ``BaseException``, so ``except Exception:`` cannot swallow it; if the
    block swallows it anyway, the scope still raises at exit.
    """

    __slots__ = ("_timer", "expired", "seconds")

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and not (
            (type(seconds) is float or type(seconds) is int) and 0 <= seconds < math.inf
        ):
            seconds = check_optional_seconds(seconds)
        self.seconds = seconds
        self.expired = False
        self._timer: HubCall | None = None

    def __repr__(self) -> str:
        return f"<greenabc timeout {self.seconds} s{' expired' if self.expired else ''}>"

    def __enter__(self) -> Self:
        if self._timer is not None:
            raise RuntimeError("a timeout scope can be entered only once")
        if self.seconds is not None:
            self._timer = schedule(get_hub(), self.seconds, self._fire, getcurrent())
        return self

    def _fire(self, target: greenlet) -> None:
        self.expired = True
        if not target.dead:
            target.throw(ScopeInterrupt)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        timer = self._timer
        if timer is None:
            return None
        timer.cancel()
        if self.expired and (exc is None or isinstance(exc, ScopeInterrupt)):
            raise TimeoutExpired(f"timed out after {self.seconds:g} s") from None
        return None
