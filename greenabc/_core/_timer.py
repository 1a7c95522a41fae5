"""The Timer semantics, written once over the backend's deadline heap.

Each entry is one entry of the backend's :class:`~._deadlines.DeadlineHeap`
(the heap every deadline of the backend shares), so entries fire in exact
deadline order and never early. The timer keeps the set of its pending
entries under the heap's lock, so ``len(timer)``, ``queue`` and ``clear()``
are exact whatever threads schedule and cancel at once.

Callbacks run in the engine's scheduler (the hub, or the one scheduler
thread): they must be quick and must not block; spawn from them for more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from ..interfaces import Engine, TimerEntry
from ._deadlines import DeadlineHeap, Entry
from ._exceptions import GreenabcError
from ._validate import check_seconds

logger = logging.getLogger("greenabc")

_by_deadline = attrgetter("deadline")


class EngineTimerEntry:
    """One scheduled call (see ``greenabc.interfaces.TimerEntry``)."""

    __slots__ = ("_due", "_timer", "args", "cancelled", "fn", "interval")

    def __init__(
        self,
        timer: EngineTimer,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        interval: float | None,
    ) -> None:
        self._timer = timer
        self.fn = fn
        self.args = args
        self.interval = interval
        self.cancelled = False
        self._due: Entry = []  # its entry in the heap, set when scheduled

    @property
    def deadline(self) -> float:
        return float(self._due[0])

    def __repr__(self) -> str:
        kind = f"every {self.interval:g} s" if self.interval is not None else "once"
        state = " cancelled" if self.cancelled else ""
        return f"<greenabc TimerEntry {self.fn!r} at {self.deadline:.3f} {kind}{state}>"

    def cancel(self) -> None:
        """Stop this entry; a repeating entry never fires again."""
        self._timer._cancel(self)


def _stopped() -> GreenabcError:
    return GreenabcError("this timer is stopped: create a new one to schedule more")


def _not_callable(fn: object) -> TypeError:
    return TypeError(f"fn must be callable, got {type(fn).__name__}: {fn!r}")


class EngineTimer:
    """A Timer over a backend's deadlines (see ``greenabc.interfaces.Timer``)."""

    def __init__(self, engine: Engine, deadlines: DeadlineHeap) -> None:
        self._engine = engine
        self._deadlines = deadlines
        self._lock = deadlines.lock  # one lock for the entries and their heap
        self._pending: set[EngineTimerEntry] = set()
        self._stopped = False

    def __len__(self) -> int:
        """The entries still to fire (a repeating one counts once)."""
        return len(self._pending)

    def call_after(
        self, delay: float, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` once, *delay* seconds from now."""
        # The hot path: _schedule inlined.
        if not (type(delay) is float or type(delay) is int) or not 0 <= delay < 1e12:
            delay = check_seconds(delay, "delay")
        if not callable(fn):
            raise _not_callable(fn)
        entry = EngineTimerEntry(self, fn, args, None)
        with self._lock:  # recorded before it can fire
            if self._stopped:
                raise _stopped()
            self._pending.add(entry)
            entry._due = self._deadlines.push_locked(
                self._engine.monotonic() + delay, self._fire, (entry,)
            )
        return entry

    def call_at(self, when: float, fn: Callable[..., object], /, *args: Any) -> EngineTimerEntry:
        """Call ``fn(*args)`` once at *when*, a ``time.monotonic()`` value (at
        once if it is past)."""
        return self._schedule(check_seconds(when, "when"), fn, args, None)

    def call_repeatedly(
        self, interval: float, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` every *interval* seconds until cancelled."""
        interval = check_seconds(interval, "interval")
        if interval == 0:
            raise ValueError("interval must be > 0: a zero interval would spin the scheduler")
        return self._schedule(self._engine.monotonic() + interval, fn, args, interval)

    def _schedule(
        self,
        when: float,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        interval: float | None,
    ) -> EngineTimerEntry:
        if not callable(fn):
            raise _not_callable(fn)
        entry = EngineTimerEntry(self, fn, args, interval)
        with self._lock:  # recorded before it can fire
            if self._stopped:
                raise _stopped()
            self._pending.add(entry)
            entry._due = self._deadlines.push_locked(when, self._fire, (entry,))
        return entry

    def _fire(self, entry: EngineTimerEntry) -> None:
        """Run *entry* (in the engine's scheduler); a repeating one is
        scheduled again first, keeping its rhythm but never bursting."""
        with self._lock:
            if entry.cancelled:
                return
            if entry.interval is None:
                self._pending.discard(entry)
            else:
                when = max(entry._due[0] + entry.interval, self._engine.monotonic())
                entry._due = self._deadlines.push_locked(when, self._fire, (entry,))
        try:
            entry.fn(*entry.args)
        except Exception:
            logger.exception("greenabc: timer callback %r raised", entry.fn)

    def _cancel(self, entry: EngineTimerEntry) -> None:
        with self._lock:
            if entry.cancelled:
                return
            entry.cancelled = True
            self._pending.discard(entry)
            self._deadlines.cancel_locked(entry._due)

    def cancel(self, entry: TimerEntry) -> None:
        entry.cancel()

    def clear(self) -> None:
        """Cancel every pending entry (those of a batch now firing too, when
        called from a timer callback)."""
        with self._lock:
            pending = list(self._pending)
        for entry in pending:
            self._cancel(entry)

    @property
    def queue(self) -> list[TimerEntry]:
        """The pending entries, soonest first."""
        with self._lock:
            pending = list(self._pending)
        return sorted(pending, key=_by_deadline)

    def stop(self) -> None:
        """Cancel everything and refuse new entries."""
        with self._lock:
            self._stopped = True
        self.clear()
