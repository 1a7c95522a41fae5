"""The Timer semantics, written once over an Engine's ``call_later``.

Callbacks run in the engine's scheduler (the hub, or the one scheduler
thread): they must be quick and must not block; spawn from them for more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..interfaces import Cancellable, Engine, TimerEntry
from ._exceptions import GreenabcError
from ._validate import check_seconds

logger = logging.getLogger("greenabc")


class EngineTimerEntry:
    """One scheduled call (see ``greenabc.interfaces.TimerEntry``)."""

    __slots__ = ("_handle", "_timer", "args", "cancelled", "deadline", "fn", "interval")

    def __init__(
        self,
        timer: EngineTimer,
        deadline: float,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        interval: float | None,
    ) -> None:
        self._timer = timer
        self.deadline = deadline
        self.fn = fn
        self.args = args
        self.interval = interval
        self.cancelled = False
        self._handle: Cancellable | None = None

    def __repr__(self) -> str:
        kind = f"every {self.interval:g} s" if self.interval is not None else "once"
        state = " cancelled" if self.cancelled else ""
        return f"<greenabc TimerEntry {self.fn!r} at {self.deadline:.3f} {kind}{state}>"

    def cancel(self) -> None:
        """Stop this entry; a repeating entry never fires again."""
        self.cancelled = True
        self._timer._entries.discard(self)
        handle = self._handle
        if handle is not None:
            handle.cancel()

    def _fire(self) -> None:
        if self.cancelled:
            return
        if self.interval is None:
            self._timer._entries.discard(self)
        try:
            self.fn(*self.args)
        except Exception:
            logger.exception("greenabc: timer callback %r raised", self.fn)
        if self.interval is not None and not self.cancelled:
            self._reschedule(self.interval)

    def _reschedule(self, interval: float) -> None:
        engine = self._timer._engine
        now = engine.monotonic()
        # Keep the rhythm, but never try to catch up on missed beats.
        self.deadline = max(self.deadline + interval, now)
        handle = engine.call_later(self.deadline - now, self._fire)
        self._handle = handle
        if self.cancelled:  # cancelled while we rescheduled
            handle.cancel()


class EngineTimer:
    """A Timer over an :class:`~greenabc.interfaces.Engine` (see ``greenabc.interfaces.Timer``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._entries: set[EngineTimerEntry] = set()
        self._stopped = False

    def call_after(
        self, delay: float, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` once, *delay* seconds from now."""
        if not (type(delay) is float or type(delay) is int) or not 0 <= delay < 1e12:
            delay = check_seconds(delay, "delay")
        return self._schedule(delay, fn, args, None)

    def call_at(self, when: float, fn: Callable[..., object], /, *args: Any) -> EngineTimerEntry:
        """Call ``fn(*args)`` once at *when*, a ``time.monotonic()`` value (at
        once if it is past)."""
        when = check_seconds(when, "when")
        return self._schedule(max(0.0, when - self._engine.monotonic()), fn, args, None)

    def call_repeatedly(
        self, interval: float, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` every *interval* seconds until cancelled."""
        interval = check_seconds(interval, "interval")
        if interval == 0:
            raise ValueError("interval must be > 0: a zero interval would spin the scheduler")
        return self._schedule(interval, fn, args, interval)

    def _schedule(
        self,
        delay: float,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        interval: float | None,
    ) -> EngineTimerEntry:
        if self._stopped:
            raise GreenabcError("this timer is stopped: create a new one to schedule more")
        engine = self._engine
        entry = EngineTimerEntry(self, engine.monotonic() + delay, fn, args, interval)
        self._entries.add(entry)
        entry._handle = engine.call_later(delay, entry._fire)
        return entry

    def cancel(self, entry: TimerEntry) -> None:
        entry.cancel()

    def clear(self) -> None:
        """Cancel every pending entry."""
        for entry in list(self._entries):
            entry.cancel()

    @property
    def queue(self) -> list[TimerEntry]:
        """The pending entries, soonest first."""
        return sorted(list(self._entries), key=lambda entry: entry.deadline)

    def stop(self) -> None:
        """Cancel everything and refuse new entries."""
        self._stopped = True
        self.clear()
