"""The Timer semantics, written once over the backend's deadline structure.

Each entry *is* an entry of the backend's :class:`~._deadlines.DeadlineHeap`
(a list ``[when, state, fn, args]`` with a few slots more), so scheduling one
files one object, and a one-shot entry fires by a direct call of its
function: entries fire in exact deadline order, never early, at most ~1 ms
late beyond the engine's own lateness. The timer keeps no record of its own:
``len(timer)``, ``queue`` and ``clear()`` look its entries up in the
structure, under its lock, so they are exact whatever threads schedule and
cancel at once (and cost O(entries), where scheduling costs O(1)).

Callbacks run in the engine's scheduler (the hub, or the one scheduler
thread): they must be quick and must not block; spawn from them for more.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Final

from ..interfaces import Engine, TimerEntry
from ._deadlines import DeadlineHeap
from ._exceptions import GreenabcError
from ._timer_entry import EngineTimerEntry
from ._validate import check_seconds

logger: Final = logging.getLogger("greenabc")

_by_deadline: Final = itemgetter(0)


def _not_callable(fn: object) -> TypeError:
    return TypeError(f"fn must be callable, got {type(fn).__name__}: {fn!r}")


def _stopped_error() -> GreenabcError:
    return GreenabcError("this timer is stopped: create a new one to schedule more")


class EngineTimer:
    """A Timer over a backend's deadlines (see ``greenabc.interfaces.Timer``)."""

    def __init__(self, engine: Engine, deadlines: DeadlineHeap) -> None:
        self._engine = engine
        self._deadlines = deadlines
        self._lock = deadlines.lock  # one lock for the entries and their structure
        self._stopped = False

    def __len__(self) -> int:
        """The entries still to fire (a repeating one counts once)."""
        return len(self._pending())

    # The numbers users pass are typed object here and checked (their types
    # are in interfaces.Timer): compiled, a float annotation would be checked
    # by mypyc first, with its own message.
    def call_after(
        self, delay: object, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` once, *delay* seconds from now."""
        # The hot path: _schedule() inlined for a one-shot entry.
        if type(delay) is float and 0.0 <= delay < 1e12:
            seconds = delay
        else:
            seconds = check_seconds(delay, "delay")
        if not callable(fn):
            raise _not_callable(fn)
        entry = EngineTimerEntry((self._engine.monotonic() + seconds, 0, fn, args))
        entry._timer = self
        entry.cancelled = False
        entry.interval = None
        if self._stopped:
            raise _stopped_error()
        self._deadlines.file(entry)
        if self._stopped:
            entry.cancel()
            raise _stopped_error()
        return entry

    def call_at(self, when: object, fn: Callable[..., object], /, *args: Any) -> EngineTimerEntry:
        """Call ``fn(*args)`` once at *when*, a ``time.monotonic()`` value (at
        once if it is past)."""
        return self._schedule(check_seconds(when, "when"), fn, args, None)

    def call_repeatedly(
        self, interval: object, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` every *interval* seconds until cancelled."""
        every = check_seconds(interval, "interval")
        if every == 0:
            raise ValueError("interval must be > 0: a zero interval would spin the scheduler")
        return self._schedule(self._engine.monotonic() + every, fn, args, every)

    def _schedule(
        self,
        when: float,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        interval: float | None,
    ) -> EngineTimerEntry:
        if not callable(fn):
            raise _not_callable(fn)
        if interval is None:  # fires by a direct call of fn
            entry = EngineTimerEntry((when, 0, fn, args))
        else:
            entry = EngineTimerEntry((when, 0, self._repeat, None))
            entry[3] = (entry, fn, args)
        entry._timer = self
        entry.cancelled = False
        entry.interval = interval
        if self._stopped:
            raise _stopped_error()
        self._deadlines.file(entry)  # filed before it can fire
        if self._stopped:  # stop() ran meanwhile, and may have missed this entry
            entry.cancel()
            raise _stopped_error()
        return entry

    def _repeat(
        self, entry: EngineTimerEntry, fn: Callable[..., object], args: tuple[Any, ...]
    ) -> None:
        """Run a repeating entry (in the engine's scheduler), filed again
        first: it keeps its rhythm but never bursts to catch up."""
        assert entry.interval is not None
        if entry.cancelled:
            return
        entry[0] = max(entry[0] + entry.interval, self._engine.monotonic())
        entry[2] = self._repeat
        entry.append((entry, fn, args))  # the firing loop took its args
        self._deadlines.file(entry)
        if entry.cancelled:  # cancelled meanwhile, maybe before it was filed
            self._deadlines.cancel(entry)
            return
        try:
            fn(*args)
        except Exception:
            logger.exception("greenabc: timer callback %r raised", fn)

    def _pending(self) -> list[EngineTimerEntry]:
        with self._lock:
            return [
                e
                for e in self._deadlines.live_locked()
                if type(e) is EngineTimerEntry and e._timer is self
            ]

    def cancel(self, entry: TimerEntry) -> None:
        entry.cancel()

    def clear(self) -> None:
        """Cancel every pending entry (those of a batch now firing too, when
        called from a timer callback)."""
        for entry in self._pending():
            entry.cancel()

    @property
    def queue(self) -> list[TimerEntry]:
        """The pending entries, soonest first."""
        pending = sorted(self._pending(), key=_by_deadline)
        return list(pending)

    def stop(self) -> None:
        """Cancel everything and refuse new entries."""
        with self._lock:
            self._stopped = True
        self.clear()
