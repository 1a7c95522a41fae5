"""Everything that is due at a time, in one structure per backend.

Hard and soft task deadlines, timeout scopes, re-interrupts and Timer entries
all sit in one :class:`DeadlineHeap`, as trio keeps every deadline in one
heap. Entries are filed in buckets of one millisecond (a dict of lists) with a
heap of the bucket keys: tasks with the same timeout, and timer entries due
close together, share a bucket, so filing one is a dict look-up and an
append; a bucket fires as one batch sorted by deadline, never early and at
most ~1 ms late beyond the engine's own lateness.

An entry is a list ``[when, state, fn, args]``, live while it has all four.
Whoever deletes ``args`` first (one atomic list operation, no lock) owns the
call: the firing loop calls it, a cancel stops it. So a cancel that returned
True stops the call from any thread, and neither cancelling nor firing takes
a lock per entry. The owner clears ``fn`` too, so a cancelled entry holds
nothing alive (a finished task is freed by reference counting, however far
its deadline); it is dropped lazily, when its bucket comes due or when stale
entries outnumber live ones: one rule, so the structure is O(live entries)
whatever the timeouts. The count of stale entries only decides when to
rebuild (a cancel without the lock counts with an atomic counter, and a race
with the firing loop may miscount one); a rebuild recounts.

Filing takes no lock either when the entry is due no sooner than the
driver's next wake-up (a task's deadline, as a rule): it is appended to an
inbox that the wake-up sorts into the buckets first, as does the filing that
finds ``INBOX_LIMIT`` entries waiting, so a short task's deadline, cancelled
while it waits, is never sorted at all.

Only the *driver* differs: :class:`Deadlines` keeps a single engine call
(``Engine.call_later``) for the earliest bucket; an engine whose scheduler
is itself a :class:`DeadlineHeap` (the threads engine's scheduler thread)
hands that to its backend, so one structure holds everything.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from itertools import count
from operator import itemgetter
from typing import Any, Final

from ..interfaces import Cancellable, Engine, SyncLock
from ._compiled import mypyc_attr

logger: Final = logging.getLogger("greenabc")

#: Buckets per second.
TICKS: Final = 1000
#: A killed or timed-out task, and an expired scope whose block caught its
#: interrupt, are interrupted again this often until they end.
REINTERRUPT_INTERVAL: Final = 0.01
#: Stale entries tolerated beyond the live ones before the buckets are rebuilt.
STALE_SLACK: Final = 256
#: Entries filed without the lock wait in the inbox at most until this many
#: pile up (or until the driver wakes).
INBOX_LIMIT: Final = 256

#: ``entry[1]``: in a bucket, or out of it (never filed, or taken out for firing).
_FILED: Final = 1
_OUT: Final = 0

Entry = list[Any]  # [when, state, fn, args]: see the module docstring
_when: Final = itemgetter(0)
_ceil: Final = math.ceil


@mypyc_attr(allow_interpreted_subclasses=True)
class DeadlineHeap:
    """Call ``fn(*args)`` at ``when`` (a ``monotonic()`` value), soonest
    first, never early; whatever a call raises is logged, and the rest of
    the batch still runs. A cancel that returned True stops the call, from
    any thread, also from a call of the same batch.

    Thread-safe: ``lock`` guards the buckets (never held while calling
    out); :meth:`file` and :meth:`cancel` take it only now and then, and a
    caller that keeps state of its own under it (a timeout scope) uses the
    ``*_locked`` variants. Subclasses
    implement :meth:`_arm`, called with the lock held whenever the earliest
    bucket changes to an earlier one, and call :meth:`run_due` when it is due.
    """

    __slots__ = (
        "_armed",
        "_buckets",
        "_clock",
        "_dropped",
        "_drops",
        "_drops_base",
        "_filed",
        "_firing",
        "_inbox",
        "_keys",
        "_sort_upto",
        "_stale",
        "lock",
    )

    def __init__(self, lock: SyncLock, clock: Callable[[], float]) -> None:
        self.lock = lock  # for the *_locked methods' callers: held for a few lines
        self._clock = clock
        self._buckets: dict[int, list[Entry]] = {}
        self._keys: list[int] = []  # a heap of the keys of _buckets
        self._filed = 0  # entries in buckets, stale ones too
        # Stale entries in buckets: _stale (under the lock) + _dropped - _drops_base.
        self._stale = 0  # counted by cancel_locked, less those run_due took out
        self._drops = count(1)  # cancel()'s atomic counter
        self._dropped = 0  # its last value
        self._drops_base = 0  # its value when the stale entries were last recounted
        self._armed = math.inf  # the bucket key the driver will next wake for
        # file(): an entry due by this, in a bucket before the one the driver
        # wakes for, is sorted in at once (inf while run_due sorts)
        self._sort_upto = math.inf
        self._inbox: deque[Entry] = deque()  # filed without the lock, not yet sorted in
        self._firing: list[list[Entry]] = []  # the due buckets run_due is calling

    @property
    def wake_at(self) -> float:
        """When the driver must next call :meth:`run_due` (``inf``: never)."""
        return self._armed / TICKS

    def __len__(self) -> int:
        """The live entries not yet taken out for firing (counted: exact)."""
        with self.lock:
            filed = sum(len(e) == 4 for b in self._buckets.values() for e in b)
            return filed + sum(len(e) == 4 for e in list(self._inbox))

    def push(self, when: float, fn: Callable[..., object], args: tuple[Any, ...] = ()) -> Entry:
        """Schedule ``fn(*args)`` at *when*; returns the entry, for :meth:`cancel`."""
        entry = [when, _OUT, fn, args]
        self.file(entry)
        return entry

    def file(self, entry: Entry) -> None:
        """File *entry* (``[when, state, fn, args]``) for ``fn(*args)`` at
        ``when``, without the lock unless it is due before the driver's next
        wake-up: it waits in the inbox, which run_due (called by then) sorts
        in first, as does the filing that finds ``INBOX_LIMIT`` waiting."""
        inbox = self._inbox
        inbox.append(entry)
        # Read after the append: while run_due sorts, this is inf and we wait for it.
        if entry[0] <= self._sort_upto or len(inbox) > INBOX_LIMIT:
            with self.lock:
                self._sort_in_locked()
                self._sort_upto = (self._armed - 1) / TICKS

    def file_locked(self, entry: Entry) -> None:
        """:meth:`file`, for a caller that holds ``lock``."""
        self._inbox.append(entry)
        self._sort_in_locked()
        self._sort_upto = (self._armed - 1) / TICKS

    def _sort_in_locked(self) -> None:
        """Move the inbox's live entries into their buckets, arming the
        driver for an earlier one; with the lock held. The caller then sets
        ``_sort_upto`` (run_due only once it has re-armed)."""
        inbox, buckets = self._inbox, self._buckets
        filed = 0
        while inbox:
            entry = inbox.popleft()
            if len(entry) != 4:
                continue  # cancelled while it waited
            entry[1] = _FILED
            filed += 1
            key = _ceil(entry[0] * TICKS)  # the bucket fires at or after the deadline
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [entry]
                heappush(self._keys, key)
                if key < self._armed:
                    self._armed = key
                    self._arm(key / TICKS)
            else:
                bucket.append(entry)
        self._filed += filed

    def after(self, seconds: float, fn: Callable[..., object], *args: Any) -> Entry:
        """Schedule ``fn(*args)`` *seconds* from now."""
        return self.push(self._clock() + seconds, fn, args)

    def cancel(self, entry: Entry) -> bool:
        """Stop *entry*, without the lock; True if it was still pending
        (then it never runs, whatever thread is firing). Drops what it
        referred to."""
        try:
            del entry[3]  # atomic: exactly one of the cancels and the firing loop gets it
        except IndexError:
            return False
        entry[2] = None
        # Still in its bucket? (A race with run_due may miscount one: a rebuild recounts.)
        if entry[1]:
            self._dropped = dropped = next(self._drops)
            stale = self._stale + dropped - self._drops_base
            if stale > STALE_SLACK and 2 * stale > self._filed:
                with self.lock:
                    self._compact()
        return True

    def cancel_locked(self, entry: Entry) -> bool:
        """:meth:`cancel`, for a caller that holds ``lock``."""
        try:
            del entry[3]
        except IndexError:
            return False
        entry[2] = None
        if entry[1]:
            self._stale = stale = self._stale + 1
            stale += self._dropped - self._drops_base
            if stale > STALE_SLACK and 2 * stale > self._filed:
                self._compact()
        return True

    def _compact(self) -> None:
        """Rebuild the buckets with the live entries only, and recount; with
        the lock held."""
        buckets = {}
        filed = 0
        for key, bucket in self._buckets.items():
            live = [e for e in bucket if len(e) == 4]
            if live:
                buckets[key] = live
                filed += len(live)
        self._buckets = buckets
        self._keys = list(buckets)
        heapify(self._keys)
        self._filed = filed
        self._stale = 0
        self._drops_base = self._dropped

    def entries(self) -> list[Entry]:
        """The live entries, soonest first (a snapshot, for inspection)."""
        with self.lock:
            return sorted(self.live_locked(), key=_when)

    def live_locked(self) -> list[Entry]:
        """The entries still to run, those of a batch now firing too; with
        ``lock`` held."""
        found = [e for b in self._buckets.values() for e in b if len(e) == 4]
        found += [e for e in list(self._inbox) if len(e) == 4]  # list(): one atomic copy
        found += [e for b in self._firing for e in b if len(e) == 4]
        return found

    def run_due(self, now: float) -> None:
        """Call every entry due by *now*, soonest first, then re-arm."""
        due: list[list[Entry]] = []  # buckets, soonest first
        with self.lock:
            self._sort_upto = math.inf  # a filing meanwhile waits for the lock
            self._sort_in_locked()
            keys, buckets = self._keys, self._buckets
            limit = now * TICKS
            while keys and (keys[0] <= limit or not any(len(e) == 4 for e in buckets[keys[0]])):
                bucket = buckets.pop(heappop(keys))  # due, or all stale: no wake-up for it
                self._filed -= len(bucket)
                stale = 0
                for entry in bucket:
                    if len(entry) == 4:
                        entry[1] = _OUT  # out of its bucket: a cancel now only stops the call
                    else:
                        stale += 1
                self._stale -= stale
                if stale < len(bucket):
                    due.append(bucket)
            self._armed = keys[0] if keys else math.inf
            if keys:
                self._arm(self._armed / TICKS)
            self._sort_upto = (self._armed - 1) / TICKS  # the end of the sorting
            for bucket in due:
                bucket.sort(key=_when)  # stable; a run of one timeout is sorted already
            self._firing = due  # still cancellable, and found by live_locked()
        for bucket in due:
            for entry in bucket:
                try:
                    args = entry.pop(3)  # the call is ours: a cancel now finds it gone
                except IndexError:
                    continue  # cancelled
                fn = entry[2]
                entry[2] = None
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
