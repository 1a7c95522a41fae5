"""Everything that is due at a time, in one heap per backend.

Hard and soft task deadlines, timeout scopes, re-interrupts and Timer entries
all sit in one :class:`DeadlineHeap`, as trio keeps every deadline in one
heap. An entry is a list ``[when, seq, fn, args]`` (lists compare in C, so
the heap stays fast); cancelling one clears ``fn`` and ``args`` at once, so a
cancelled entry holds nothing alive (a finished task is freed by reference
counting, however far its deadline), and it is dropped lazily: when it
reaches the top, or when stale entries outnumber live ones (one rule, so the
heap is O(live entries) whatever the timeouts).

Only the heap's *driver* differs: :class:`Deadlines` keeps a single engine
call (``Engine.call_later``) for the earliest entry; an engine whose
scheduler is itself a :class:`DeadlineHeap` (the threads engine's scheduler
thread) hands that to its backend, so one heap holds everything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from itertools import count
from typing import Any

from ..interfaces import Cancellable, Engine, LockLike

logger = logging.getLogger("greenabc")

#: Stale entries tolerated beyond the live ones before the heap is rebuilt.
STALE_SLACK = 256

#: ``entry[1]`` of an entry popped for firing (a heap entry's seq is >= 1).
_OUT = 0

Entry = list[Any]  # [when, seq, fn, args]: see the module docstring


class DeadlineHeap:
    """Call ``fn(*args)`` at ``when`` (a ``monotonic()`` value), soonest
    first, never early; whatever a call raises is logged, and the rest of
    the batch still runs.

    Thread-safe: every method takes *lock* (never held while calling out).
    Subclasses implement :meth:`_arm`, called with the lock held whenever
    the earliest entry changes to an earlier time, and call
    :meth:`run_due` when it is due.
    """

    __slots__ = ("_armed", "_clock", "_heap", "_lock", "_seq", "_stale")

    def __init__(self, lock: LockLike, clock: Callable[[], float]) -> None:
        self._lock = lock
        self._clock = clock
        self._heap: list[Entry] = []
        self._seq = count(1)
        self._stale = 0  # cancelled entries still in the heap
        self._armed = math.inf  # when the driver will next call run_due

    def __len__(self) -> int:
        """The live (not cancelled, not yet fired) entries in the heap."""
        with self._lock:
            return len(self._heap) - self._stale

    def push(self, when: float, fn: Callable[..., object], args: tuple[Any, ...] = ()) -> Entry:
        """Schedule ``fn(*args)`` at *when*; returns the entry, for :meth:`cancel`."""
        entry = [when, next(self._seq), fn, args]
        with self._lock:
            heappush(self._heap, entry)
            if when < self._armed:
                self._armed = when
                self._arm(when)
        return entry

    def after(self, seconds: float, fn: Callable[..., object], *args: Any) -> Entry:
        """Schedule ``fn(*args)`` *seconds* from now."""
        return self.push(self._clock() + seconds, fn, args)

    def cancel(self, entry: Entry) -> bool:
        """Stop *entry*; True if it was still pending. Drops what it referred to."""
        with self._lock:
            if entry[2] is None:
                return False
            entry[2] = entry[3] = None
            if entry[1] != _OUT:
                self._stale += 1
                if self._stale > STALE_SLACK and 2 * self._stale > len(self._heap):
                    self._heap[:] = [e for e in self._heap if e[2] is not None]
                    heapify(self._heap)
                    self._stale = 0
            return True

    def entries(self) -> list[Entry]:
        """The live entries, soonest first (a snapshot, for inspection)."""
        with self._lock:
            return sorted(e for e in self._heap if e[2] is not None)

    def run_due(self, now: float) -> None:
        """Call every entry due by *now*, soonest first, then re-arm."""
        heap = self._heap
        due = []
        with self._lock:
            while heap and heap[0][0] <= now:
                entry = heappop(heap)
                if entry[2] is None:
                    self._stale -= 1
                else:
                    entry[1] = _OUT  # out of the heap: a cancel now only stops the call
                    due.append(entry)
            while heap and heap[0][2] is None:  # no wake-up for a stale head
                heappop(heap)
                self._stale -= 1
            self._armed = heap[0][0] if heap else math.inf
            if heap:
                self._arm(self._armed)
        lock = self._lock
        for entry in due:
            with lock:  # a cancel from a callback of this batch still stops it
                fn, args = entry[2], entry[3]
                entry[2] = entry[3] = None
            if fn is None:
                continue
            try:
                fn(*args)
            except BaseException:  # the scheduler must go on, whatever a call raises
                logger.exception("greenabc: scheduled call %r raised", fn)
            del fn, args

    def _arm(self, when: float) -> None:
        """Have :meth:`run_due` called at *when* (the lock is held)."""
        raise NotImplementedError


class Deadlines(DeadlineHeap):
    """A backend's deadlines, driven by one engine call for the earliest."""

    __slots__ = ("_engine", "_wakeup")

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.lock(), engine.monotonic)
        self._engine = engine
        self._wakeup: Cancellable | None = None

    def _arm(self, when: float) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
        delay = when - self._engine.monotonic()
        self._wakeup = self._engine.call_later(delay if delay > 0 else 0.0, self._wake)

    def _wake(self) -> None:
        # An engine that fires early (libev's cached clock) finds nothing due
        # and is re-armed by run_due: never early.
        self.run_due(self._engine.monotonic())
