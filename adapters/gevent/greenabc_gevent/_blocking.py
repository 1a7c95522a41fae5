"""Blocking detection over gevent's monitor thread, as greenabc's one report.

gevent's monitor thread checks every ``max_blocking_time`` seconds whether
any greenlet switch happened since its last check, and emits an
``EventLoopBlocked`` event (with the blocked thread's stack) for *each* check
that finds none: a 1 s stall at 0.1 s is ten events. greenabc turns one stall
into one record on the logger ``greenabc.blocking`` and one
``greenabc.signals.hub_blocked`` send:

* the first event of a stall opens it and keeps gevent's stack, taken while
  the hub was still blocked, and asks the hub to call back when it runs again;
  the stall began before the monitor's previous check (gevent saw no switch
  since), which a tick of ours, run right after each check, timestamps;
* that callback, the moment the stall ends, measures it and reports from a
  new greenlet (logging handlers may do green I/O, which the hub cannot);
* a stall that outlasts ``STILL_BLOCKED_AFTER`` thresholds is reported from
  the monitor thread at once, as still blocked: a hung hub is never silent.

The figure is a lower bound (from that previous check), short by less than one
threshold: gevent's tracer counts switches but does not time them.
"""

from __future__ import annotations

import logging
import sys
import traceback
import warnings
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import gevent
from gevent import config, monkey
from gevent.events import EventLoopBlocked, subscribers
from gevent.hub import get_hub

from greenabc.adapter import GreenabcError, hub_blocked

logger = logging.getLogger("greenabc.blocking")

#: A stall this many thresholds long is reported while it lasts.
STILL_BLOCKED_AFTER = 10

_BLOCKED_STACK = "Blocked Stack"

_active: BlockingDetector | None = None  # gevent's monitor is configured process-wide


@dataclass
class _Stall:
    since: float  # perf_counter() at the monitor's check before the first event
    greenlet: Any
    stack: str
    reported: bool = False


def _stack_from(info: list[str], thread_ident: int) -> str:
    """The stack gevent took when it saw the stall, else the one now."""
    for i, line in enumerate(info[:-1]):
        if line.startswith(_BLOCKED_STACK):
            return info[i + 1]
    frame = sys._current_frames().get(thread_ident)
    return "".join(traceback.format_stack(frame)) if frame is not None else "(no stack)\n"


class BlockingDetector:
    """Reports hub stalls longer than *threshold* seconds; ``cancel()`` stops it.

    Start and cancel it in the thread whose hub it watches."""

    threshold: float

    def __init__(self, threshold: float) -> None:
        global _active
        if not threshold > 0:  # NaN too
            raise ValueError(f"threshold must be > 0 seconds, got {threshold!r}")
        if _active is not None:
            raise GreenabcError(
                f"blocking detection is already on ({_active.threshold:g} s): gevent's"
                " monitor is process-wide, so cancel that detector first"
            )
        self.threshold = threshold
        self._hub = hub = get_hub()
        self._lock = monkey.get_original("_thread", "allocate_lock")()
        self._stall: _Stall | None = None
        self._last_check: float | None = None
        self._last_resumed = 0.0
        self._cancelled = False
        self._saved = (
            config.monitor_thread,
            config.max_blocking_time,
            config.print_blocking_reports,
        )
        config.max_blocking_time = threshold
        config.print_blocking_reports = False  # ours is the one report
        config.monitor_thread = True
        self._own_monitor = hub.periodic_monitoring_thread is None
        with warnings.catch_warnings():
            # Without psutil gevent warns it cannot watch memory: not our business.
            warnings.filterwarnings("ignore", "Unable to monitor memory usage")
            self._monitor = hub.start_periodic_monitoring_thread()
        self._monitor.add_monitoring_function(self._tick, threshold)
        subscribers.append(self._on_event)
        _active = self

    def __repr__(self) -> str:
        state = "cancelled" if self._cancelled else "on"
        return f"<greenabc gevent blocking detector {self.threshold:g} s {state}>"

    def _tick(self, hub: object) -> None:
        # In the monitor thread, just after its blocking check (ours is added
        # after it, with the same period, so they run together).
        self._last_check = perf_counter()

    def _on_event(self, event: object) -> None:
        # In gevent's monitor thread, once per check that found the hub blocked.
        if not isinstance(event, EventLoopBlocked) or event.hub is not self._hub:
            return
        now = perf_counter()
        with self._lock:
            if self._cancelled:
                return
            stall = self._stall
            if stall is None:
                since = self._last_check
                if since is not None and self._last_resumed > since:
                    # gevent formats its report (slowly) after its check: a
                    # stall that ended since the previous check is the one
                    # this check saw, and it has been reported.
                    return
                if since is None:  # the first check since we started
                    since = now - event.blocking_time
                stack = _stack_from(event.info, self._hub.thread_ident)
                stall = self._stall = _Stall(since, event.greenlet, stack)
                opened = True
            elif stall.reported or now - stall.since < STILL_BLOCKED_AFTER * self.threshold:
                return
            else:
                stall.reported = True
                opened = False
        if opened:
            self._hub.loop.run_callback_threadsafe(self._resumed, stall)
        else:
            _report(stall, now - stall.since, self.threshold, still_blocked=True)

    def _resumed(self, stall: _Stall) -> None:
        # In the hub, as soon as it runs again: the stall has just ended.
        now = perf_counter()
        seconds = now - stall.since
        with self._lock:
            self._last_resumed = now
            if self._stall is stall:
                self._stall = None
            if stall.reported:
                return
            stall.reported = True
        gevent.spawn(_report, stall, seconds, self.threshold, still_blocked=False)

    def cancel(self) -> None:
        """Stop reporting, and put gevent's monitor settings back."""
        global _active
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
        if self._on_event in subscribers:
            subscribers.remove(self._on_event)
        config.monitor_thread, config.max_blocking_time, config.print_blocking_reports = self._saved
        self._monitor.add_monitoring_function(self._tick, None)  # None removes it
        if self._own_monitor:
            self._monitor.kill()  # uninstalls its greenlet tracer: must run in the hub's thread
            self._hub.periodic_monitoring_thread = None
        if _active is self:
            _active = None


def _report(stall: _Stall, seconds: float, threshold: float, *, still_blocked: bool) -> None:
    how = "has been blocked for at least" if still_blocked else "was blocked for at least"
    logger.warning(
        "the gevent hub %s %.3f s (threshold %g s) by %r; the stack of the code that"
        " blocked (most recent call last):\n%s",
        how,
        seconds,
        threshold,
        stall.greenlet,
        stall.stack.rstrip("\n"),
        extra={"blocked_seconds": seconds, "blocked_stack": stall.stack},
    )
    hub_blocked.send("gevent", seconds=seconds, stack=stall.stack)


def detect_blocking(threshold: float) -> BlockingDetector:
    """The ``blocking_detector`` of the gevent backend."""
    return BlockingDetector(threshold)
