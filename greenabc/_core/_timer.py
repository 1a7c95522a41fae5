"""The Timer semantics, written once over an Engine's ``call_later``.

Entries are kept in buckets of one millisecond of deadline each (a dict of
lists), with a heap of the bucket keys; the engine holds a single scheduled
call, for the earliest bucket. Scheduling is a dict look-up and an append, not
an engine timer per entry, and a bucket fires as one batch sorted by deadline.
Entries never fire early and at most ~1 ms late beyond the engine's own
lateness (the hubs' timers have millisecond resolution anyway).

Callbacks run in the engine's scheduler (the hub, or the one scheduler
thread): they must be quick and must not block; spawn from them for more.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from ..interfaces import Cancellable, Engine, TimerEntry
from ._exceptions import GreenabcError
from ._validate import check_seconds

logger = logging.getLogger("greenabc")

#: Buckets per second.
TICKS = 1000
#: Compact when more than this many cancelled entries wait and they are more
#: than half of all waiting entries.
_COMPACT_AFTER = 1024

_by_deadline = attrgetter("deadline")


def _not_callable(fn: object) -> TypeError:
    return TypeError(f"fn must be callable, got {type(fn).__name__}: {fn!r}")


class EngineTimerEntry:
    """One scheduled call (see ``greenabc.interfaces.TimerEntry``)."""

    __slots__ = ("_queued", "_timer", "args", "cancelled", "deadline", "fn", "interval")

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
        self._queued = True  # in one of the timer's buckets (it is filed at once)

    def __repr__(self) -> str:
        kind = f"every {self.interval:g} s" if self.interval is not None else "once"
        state = " cancelled" if self.cancelled else ""
        return f"<greenabc TimerEntry {self.fn!r} at {self.deadline:.3f} {kind}{state}>"

    def cancel(self) -> None:
        """Stop this entry; a repeating entry never fires again."""
        if not self.cancelled:
            self.cancelled = True
            if self._queued:
                self._timer._note_cancelled()


class EngineTimer:
    """A Timer over an :class:`~greenabc.interfaces.Engine` (see ``greenabc.interfaces.Timer``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._monotonic = engine.monotonic
        self._lock = engine.core_lock()
        self._buckets: dict[int, list[EngineTimerEntry]] = {}
        self._keys: list[int] = []  # heap of the keys of self._buckets
        self._waiting = 0  # entries in buckets, cancelled ones too
        self._cancelled = 0  # cancelled entries still in buckets
        self._wakeup: Cancellable | None = None  # the engine call for the earliest bucket
        self._wakeup_key = 0
        self._firing: list[EngineTimerEntry] = []  # the batch being fired, for clear()
        self._stopped = False

    def call_after(
        self, delay: float, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` once, *delay* seconds from now."""
        # The hot path: _push inlined, the common case (bucket exists) first.
        if not (type(delay) is float or type(delay) is int) or not 0 <= delay < 1e12:
            delay = check_seconds(delay, "delay")
        if not callable(fn):
            raise _not_callable(fn)
        if self._stopped:
            raise GreenabcError("this timer is stopped: create a new one to schedule more")
        deadline = self._monotonic() + delay
        entry = EngineTimerEntry(self, deadline, fn, args, None)
        with self._lock:
            bucket = self._buckets.get(math.ceil(deadline * TICKS))
            if bucket is None:
                self._insert(entry)
            else:
                bucket.append(entry)
                self._waiting += 1
        return entry

    def call_at(self, when: float, fn: Callable[..., object], /, *args: Any) -> EngineTimerEntry:
        """Call ``fn(*args)`` once at *when*, a ``time.monotonic()`` value (at
        once if it is past)."""
        return self._push(check_seconds(when, "when"), fn, args, None)

    def call_repeatedly(
        self, interval: float, fn: Callable[..., object], /, *args: Any
    ) -> EngineTimerEntry:
        """Call ``fn(*args)`` every *interval* seconds until cancelled."""
        interval = check_seconds(interval, "interval")
        if interval == 0:
            raise ValueError("interval must be > 0: a zero interval would spin the scheduler")
        return self._push(self._engine.monotonic() + interval, fn, args, interval)

    def _push(
        self,
        deadline: float,
        fn: Callable[..., object],
        args: tuple[Any, ...],
        interval: float | None,
    ) -> EngineTimerEntry:
        if not callable(fn):
            raise _not_callable(fn)
        if self._stopped:
            raise GreenabcError("this timer is stopped: create a new one to schedule more")
        entry = EngineTimerEntry(self, deadline, fn, args, interval)
        with self._lock:
            self._insert(entry)
        return entry

    def _insert(self, entry: EngineTimerEntry) -> None:
        """File *entry* in its bucket; with the lock held."""
        key = math.ceil(entry.deadline * TICKS)  # the bucket fires at or after the deadline
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [entry]
            heapq.heappush(self._keys, key)
            if self._wakeup is None or key < self._wakeup_key:
                self._wake_at(key)
        else:
            bucket.append(entry)
        entry._queued = True
        self._waiting += 1

    def _wake_at(self, key: int) -> None:
        """(Re)schedule the engine call for bucket *key*; with the lock held."""
        if self._wakeup is not None:
            self._wakeup.cancel()
        self._wakeup_key = key
        delay = key / TICKS - self._engine.monotonic()
        self._wakeup = self._engine.call_later(delay if delay > 0 else 0.0, self._run_due)

    def _take_due(self) -> list[EngineTimerEntry] | None:
        """Pop the earliest bucket if it is due, else re-arm; with the lock held."""
        keys = self._keys
        if not keys or self._stopped:
            self._wakeup = None
            return None
        key = keys[0]
        if key > self._engine.monotonic() * TICKS:
            self._wakeup = None
            self._wake_at(key)
            return None
        heapq.heappop(keys)
        bucket = self._buckets.pop(key)
        self._waiting -= len(bucket)
        for entry in bucket:
            entry._queued = False
            if entry.cancelled:
                self._cancelled -= 1
        return bucket

    def _run_due(self) -> None:
        """Fire every due bucket, soonest entry first, then re-arm."""
        while True:
            with self._lock:
                bucket = self._take_due()
                if bucket is None:
                    self._firing = []
                    return
                bucket.sort(key=_by_deadline)
                self._firing = bucket  # clear() and stop() cancel what is left of it
            for index, entry in enumerate(bucket):
                if entry.cancelled:
                    continue
                if entry.interval is not None:  # keep the rhythm, never burst
                    entry.deadline = max(entry.deadline + entry.interval, self._engine.monotonic())
                    with self._lock:
                        if entry.cancelled:  # by clear() or stop() on another thread
                            continue
                        self._insert(entry)
                try:
                    entry.fn(*entry.args)
                except Exception:
                    logger.exception("greenabc: timer callback %r raised", entry.fn)
                except BaseException:
                    with self._lock:  # an interrupt must not lose the rest of the batch
                        for rest in bucket[index + 1 :]:
                            if not rest.cancelled:
                                self._insert(rest)
                    raise

    def _note_cancelled(self) -> None:
        with self._lock:
            self._cancelled += 1
            if self._cancelled > _COMPACT_AFTER and self._cancelled * 2 > self._waiting:
                live = [e for b in self._buckets.values() for e in b if not e.cancelled]
                for entry in live:
                    entry._queued = False
                self._buckets.clear()
                self._keys.clear()
                self._waiting = self._cancelled = 0
                if self._wakeup is not None:
                    self._wakeup.cancel()
                    self._wakeup = None
                for entry in live:
                    self._insert(entry)

    def cancel(self, entry: TimerEntry) -> None:
        entry.cancel()

    def clear(self) -> None:
        """Cancel every pending entry, those of a batch now firing too (when
        called from a timer callback)."""
        with self._lock:
            firing = [e for e in self._firing if not e.cancelled]
        for entry in firing:
            entry.cancel()
        for pending in self.queue:
            pending.cancel()

    @property
    def queue(self) -> list[TimerEntry]:
        """The pending entries, soonest first."""
        with self._lock:
            live = [e for b in self._buckets.values() for e in b if not e.cancelled]
        return sorted(live, key=_by_deadline)

    def stop(self) -> None:
        """Cancel everything and refuse new entries."""
        self._stopped = True
        self.clear()
        with self._lock:
            if self._wakeup is not None:
                self._wakeup.cancel()
                self._wakeup = None
