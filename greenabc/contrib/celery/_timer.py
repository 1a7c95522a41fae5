"""The worker's Timer: kombu's Timer API on a greenabc Timer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from time import monotonic
from typing import Any

from kombu.asynchronous import timer as kombu_timer

import greenabc
from greenabc.interfaces import TimerEntry

logger = logging.getLogger("greenabc.celery")


class _Scheduled:
    """One kombu entry and the greenabc timer entry that fires it."""

    __slots__ = ("entry", "eta", "handle", "interval", "priority", "running")

    def __init__(self, eta: float, priority: Any, entry: Any, interval: float | None) -> None:
        self.eta = eta
        self.priority = priority
        self.entry = entry
        self.interval = interval
        # Set once scheduled: the record exists before its entry can fire.
        self.handle: TimerEntry | None = None
        self.running = False  # a run of it was spawned and has not ended


class Timer(kombu_timer.Timer):
    """The worker's Timer (ETA and countdown tasks, heartbeats, rate limits)
    on a greenabc Timer of the default backend.

    Entries are kombu ``Entry`` objects (``fun``, ``args``, ``kwargs``,
    ``cancel()``); ``queue`` lists them as ``(eta, priority, entry)`` in
    deadline order, as ``celery inspect scheduled`` expects. Each due entry
    runs in a green thread (or thread) of its own, since the worker's timer
    callbacks may block (an ETA task waits for a free slot in the pool).
    """

    def __init__(
        self,
        max_interval: float | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        on_tick: Callable[[float], object] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_interval=max_interval, on_error=on_error, **kwargs)  # type: ignore[no-untyped-call]
        self.on_tick = on_tick
        self._timer = greenabc.get_timer()
        self._lock = threading.Lock()
        self._scheduled: dict[int, _Scheduled] = {}  # id(entry) -> its record

    # kombu's call_at / call_after / enter_at / enter_after all end here.
    def _enter(self, eta: Any, priority: Any, entry: Any, push: Any = None) -> Any:
        delay = max(eta - monotonic(), 0.0)
        return self._schedule(
            _Scheduled(eta, priority, entry, None),
            lambda record: self._timer.call_after(delay, self._fire, record),
        )

    def call_repeatedly(
        self,
        secs: float,
        fun: Callable[..., object],
        args: Any = (),
        kwargs: dict[str, Any] | None = None,
        priority: int = 0,
    ) -> Any:
        secs = float(secs)
        return self._schedule(
            _Scheduled(monotonic() + secs, priority, self.Entry(fun, args, kwargs or {}), secs),  # type: ignore[no-untyped-call]
            lambda record: self._timer.call_repeatedly(secs, self._fire, record),
        )

    def _schedule(self, record: _Scheduled, schedule: Callable[[_Scheduled], TimerEntry]) -> Any:
        """Record *record*, then schedule it: recorded first, since on threads
        an overdue entry fires on the scheduler thread before ``call_after``
        returns, and an entry that finds no record is dropped."""
        key = id(record.entry)
        with self._lock:
            old = self._scheduled.get(key)
            self._scheduled[key] = record
        if old is not None and old.handle is not None:
            old.handle.cancel()  # the same entry entered again: one schedule per entry
        try:
            handle = schedule(record)
        except BaseException:  # e.g. the timer is stopped: keep no record of it
            with self._lock:
                if self._scheduled.get(key) is record:
                    del self._scheduled[key]
            raise
        with self._lock:
            current = self._scheduled.get(key) is record
            if current:
                record.handle = handle
        if not current:
            handle.cancel()  # fired, cancelled or entered again meanwhile
        return record.entry

    def _fire(self, record: _Scheduled) -> None:
        # In the engine's scheduler: must not block.
        entry = record.entry
        with self._lock:
            if self._scheduled.get(id(entry)) is not record:
                return  # cancelled, or superseded by a later schedule of the entry
            cancelled = entry.canceled
            if cancelled or record.interval is None:
                del self._scheduled[id(entry)]
            else:
                record.eta = monotonic() + record.interval
                if record.running:
                    return  # kombu's rule: a repeating entry never overlaps itself
            record.running = not cancelled
        if not cancelled:
            greenabc.spawn(self._apply, record)
        elif record.handle is not None:
            record.handle.cancel()  # a repeating entry fires no more

    def _apply(self, record: _Scheduled) -> None:
        try:
            if record.entry.canceled:
                return  # cancelled after it fired, before this run started
            self.apply_entry(record.entry)  # type: ignore[no-untyped-call]  # an Exception: on_error
        except BaseException:  # SystemExit too: in a task of its own, nobody else sees it
            logger.exception("greenabc: timer entry %r raised", record.entry)
        finally:
            with self._lock:
                record.running = False

    def cancel(self, tref: Any) -> None:
        try:
            tref.cancel()
        except Exception:
            return
        with self._lock:
            record = self._scheduled.pop(id(tref), None)
        if record is not None and record.handle is not None:
            record.handle.cancel()

    def clear(self) -> None:
        with self._lock:
            records = list(self._scheduled.values())
            self._scheduled.clear()
        for record in records:
            if record.handle is not None:
                record.handle.cancel()

    def stop(self) -> None:
        self.clear()
        self._timer.stop()

    def ensure_started(self) -> None:
        """The greenabc timer needs no start (timer2.Timer's API)."""

    def __len__(self) -> int:
        return len(self._scheduled)

    def __bool__(self) -> bool:
        return True

    @property
    def queue(self) -> list[Any]:
        with self._lock:
            records = [r for r in self._scheduled.values() if not r.entry.canceled]
        records.sort(key=lambda r: r.eta)
        return [kombu_timer.scheduled(r.eta, r.priority, r.entry) for r in records]
