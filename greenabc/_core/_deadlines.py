"""Everything that is due at a time, in one structure per backend.

Hard and soft task deadlines, timeout scopes, re-interrupts and Timer entries
all sit in one :class:`DeadlineHeap`, as trio keeps every deadline in one
heap. Entries are filed in buckets of one millisecond (a dict of lists) with a
heap of the bucket keys: tasks with the same timeout, and timer entries due
close together, share a bucket, so filing one is a dict look-up and an
append; a bucket fires as one batch sorted by deadline, never early and at
most ~1 ms late beyond the engine's own lateness.

An entry is a list ``[when, seq, fn, args]`` (lists sort in C). Cancelling
one clears ``fn`` and ``args`` at once, so a cancelled entry holds nothing
alive (a finished task is freed by reference counting, however far its
deadline); it is dropped lazily, when its bucket comes due or when stale
entries outnumber live ones: one rule, so the structure is O(live entries)
whatever the timeouts.

Only the *driver* differs: :class:`Deadlines` keeps a single engine call
(``Engine.call_later``) for the earliest bucket; an engine whose scheduler
is itself a :class:`DeadlineHeap` (the threads engine's scheduler thread)
hands that to its backend, so one structure holds everything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from itertools import count
from operator import itemgetter
from typing import Any

from ..interfaces import Cancellable, Engine, SyncLock

logger = logging.getLogger("greenabc")

#: Buckets per second.
TICKS = 1000
#: A killed or timed-out task, and an expired scope whose block caught its
#: interrupt, are interrupted again this often until they end.
REINTERRUPT_INTERVAL = 0.01
#: Stale entries tolerated beyond the live ones before the buckets are rebuilt.
STALE_SLACK = 256

#: ``entry[1]`` of an entry taken out for firing (a filed entry's seq is >= 1).
_OUT = 0

Entry = list[Any]  # [when, seq, fn, args]: see the module docstring
_when = itemgetter(0)
_ceil = math.ceil


class DeadlineHeap:
    """Call ``fn(*args)`` at ``when`` (a ``monotonic()`` value), soonest
    first, never early; whatever a call raises is logged, and the rest of
    the batch still runs. A cancel that returned True stops the call, from
    any thread, also from a call of the same batch.

    Thread-safe: every method takes ``lock`` (never held while calling
    out); a caller that keeps state of its own under the same lock (a
    timeout scope, a timer) uses the ``*_locked`` variants. Subclasses
    implement :meth:`_arm`, called with the lock held whenever the earliest
    bucket changes to an earlier one, and call :meth:`run_due` when it is due.
    """

    __slots__ = (
        "_armed",
        "_buckets",
        "_clock",
        "_filed",
        "_firing",
        "_keys",
        "_seq",
        "_stale",
        "lock",
    )

    def __init__(self, lock: SyncLock, clock: Callable[[], float]) -> None:
        self.lock = lock  # for the *_locked methods' callers: held for a few lines
        self._clock = clock
        self._buckets: dict[int, list[Entry]] = {}
        self._keys: list[int] = []  # a heap of the keys of _buckets
        self._seq = count(1)
        self._filed = 0  # entries in buckets, stale ones too
        self._stale = 0  # cancelled entries still in buckets
        self._armed = math.inf  # the bucket key the driver will next wake for
        self._firing: list[list[Entry]] = []  # the due buckets run_due is calling

    @property
    def wake_at(self) -> float:
        """When the driver must next call :meth:`run_due` (``inf``: never)."""
        return self._armed / TICKS

    def __len__(self) -> int:
        """The live (not cancelled, not yet fired) entries."""
        with self.lock:
            return self._filed - self._stale

    def push(self, when: float, fn: Callable[..., object], args: tuple[Any, ...] = ()) -> Entry:
        """Schedule ``fn(*args)`` at *when*; returns the entry, for :meth:`cancel`."""
        entry = [when, 0, fn, args]
        with self.lock:
            self.file_locked(entry)
        return entry

    def file_locked(self, entry: Entry) -> None:
        """File *entry* (``[when, ..., fn, args]``, a list or a subclass of
        one: a Timer's entries are) for ``fn(*args)`` at ``when``; with
        ``lock`` held."""
        entry[1] = next(self._seq)
        key = _ceil(entry[0] * TICKS)  # the bucket fires at or after the deadline
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [entry]
            heappush(self._keys, key)
            if key < self._armed:
                self._armed = key
                self._arm(key / TICKS)
        else:
            bucket.append(entry)
        self._filed += 1

    def after(self, seconds: float, fn: Callable[..., object], *args: Any) -> Entry:
        """Schedule ``fn(*args)`` *seconds* from now."""
        return self.push(self._clock() + seconds, fn, args)

    def cancel(self, entry: Entry) -> bool:
        """Stop *entry*; True if it was still pending. Drops what it referred to."""
        with self.lock:
            return self.cancel_locked(entry)

    def cancel_locked(self, entry: Entry) -> bool:
        """:meth:`cancel`, for a caller that holds ``lock``."""
        if entry[2] is None:
            return False
        entry[2] = entry[3] = None
        if entry[1] != _OUT:
            self._stale += 1
            if self._stale > STALE_SLACK and 2 * self._stale > self._filed:
                self._compact()
        return True

    def _compact(self) -> None:
        buckets = {}
        for key, bucket in self._buckets.items():
            live = [e for e in bucket if e[2] is not None]
            if live:
                buckets[key] = live
        self._buckets = buckets
        self._keys = list(buckets)
        heapify(self._keys)
        self._filed -= self._stale
        self._stale = 0

    def entries(self) -> list[Entry]:
        """The live entries, soonest first (a snapshot, for inspection)."""
        with self.lock:
            return sorted(self.live_locked(), key=_when)

    def live_locked(self) -> list[Entry]:
        """The entries still to run, those of a batch now firing too; with
        ``lock`` held."""
        found = [e for b in self._buckets.values() for e in b if e[2] is not None]
        found += [e for b in self._firing for e in b if e[2] is not None]
        return found

    def run_due(self, now: float) -> None:
        """Call every entry due by *now*, soonest first, then re-arm."""
        due: list[list[Entry]] = []  # buckets, soonest first
        with self.lock:
            keys, buckets = self._keys, self._buckets
            limit = now * TICKS
            while keys and (keys[0] <= limit or not any(e[2] for e in buckets[keys[0]])):
                bucket = buckets.pop(heappop(keys))  # due, or all stale: no wake-up for it
                self._filed -= len(bucket)
                stale = 0
                for entry in bucket:
                    if entry[2] is None:
                        stale += 1
                    else:
                        entry[1] = _OUT  # out of its bucket: a cancel now only stops the call
                self._stale -= stale
                if stale < len(bucket):
                    due.append(bucket)
            self._armed = keys[0] if keys else math.inf
            if keys:
                self._arm(self._armed / TICKS)
            for bucket in due:
                bucket.sort(key=_when)  # stable; a run of one timeout is sorted already
            self._firing = due  # still cancellable, and found by live_locked()
        lock = self.lock
        for bucket in due:
            for entry in bucket:
                with lock:  # a cancel that returned stops the call, from any thread
                    fn, args = entry[2], entry[3]
                    entry[2] = entry[3] = None
                if fn is None:
                    continue
                try:
                    fn(*args)
                except BaseException:  # the scheduler must go on, whatever a call raises
                    logger.exception("greenabc: scheduled call %r raised", fn)
                del fn, args
        self._firing = []

    def _arm(self, when: float) -> None:
        """Have :meth:`run_due` called at *when* (the lock is held)."""
        raise NotImplementedError


class Deadlines(DeadlineHeap):
    """A backend's deadlines, driven by one engine call for the earliest."""

    __slots__ = ("_engine", "_wakeup")

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.core_lock(), engine.monotonic)
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
