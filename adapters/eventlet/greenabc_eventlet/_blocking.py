"""Blocking detection: one report when the hub could not run for too long.

Not ``eventlet.debug.hub_blocking_detection``: around every hub dispatch
that installs a SIGALRM handler and arms the process-wide ``ITIMER_REAL``
(so it works only in the main thread, replaces any other SIGALRM handler and
cancels any other alarm, such as pytest-timeout's), and its handler raises
``RuntimeError`` inside the code that blocked.

Here the hub runs a heartbeat timer every ``threshold / 4`` seconds, and a
real OS thread (no signals, works for a hub in any thread) watches it. When
no beat has come for *threshold* seconds, the watcher samples the stack of
the hub's thread, which is the code that blocked; when the hub runs again,
it emits one record on the logger ``greenabc.blocking`` and sends
``greenabc.signals.hub_blocked`` from a fresh green thread. User code is
never interrupted. Limits: the stack is sampled once the stall crosses the
threshold (code in C that holds the GIL delays the sample until it lets go);
a hub that never runs again is never reported (``faulthandler`` covers
hangs); the duration may be up to ``threshold / 4`` long.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from types import FrameType

from eventlet import patcher
from eventlet.hubs import get_hub
from greenlet import greenlet

from greenabc.adapter import hub_blocked

from ._engine import schedule

logger = logging.getLogger("greenabc.blocking")

_Stack = list[traceback.FrameSummary]


def _stack_of(frame: FrameType | None) -> _Stack:
    # Names and line numbers only: source lines are read later, off this thread.
    stack: _Stack = []
    while frame is not None:
        code = frame.f_code
        stack.append(
            traceback.FrameSummary(
                code.co_filename, frame.f_lineno, code.co_name, lookup_line=False
            )
        )
        frame = frame.f_back
    stack.reverse()
    return stack


class BlockingDetector:
    """Watches the calling thread's hub; ``cancel()`` stops it."""

    def __init__(self, threshold: float) -> None:
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0 seconds, got {threshold!r}")
        real_thread = patcher.original("_thread")
        self._threshold = threshold
        self._period = threshold / 4
        self._hub = get_hub()
        self._thread_id: int = real_thread.get_ident()
        self._beat = time.monotonic()
        self._sampled_beat = -1.0
        self._pending: tuple[float, _Stack] | None = None
        self._stopped = False
        self._stop = real_thread.allocate_lock()
        self._stop.acquire()
        self._timer = schedule(self._hub, self._period, self._tick)
        real_thread.start_new_thread(self._watch, ())

    def cancel(self) -> None:
        """Stop watching; safe to call twice and from any thread."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.release()
        if patcher.original("_thread").get_ident() == self._thread_id:
            self._timer.cancel()

    def _tick(self) -> None:
        # Runs in the hub: must not block.
        if self._stopped:
            return
        hub, now = self._hub, time.monotonic()
        # A sample taken for an earlier beat is stale: only the watcher
        # writes _pending, so nothing here races with it.
        pending = self._pending
        if pending is not None and pending[0] == self._beat:
            schedule(
                hub, 0, greenlet(self._emit, hub.greenlet).switch, now - self._beat, pending[1]
            )
        self._beat = now
        self._timer = schedule(hub, self._period, self._tick)

    def _watch(self) -> None:
        # A real OS thread: touches nothing green, only reads the hub's beat.
        while True:
            beat = self._beat
            wait = beat + self._threshold - time.monotonic()
            if wait <= 0:
                if beat != self._sampled_beat:
                    self._sampled_beat = beat
                    frame = sys._current_frames().get(self._thread_id)
                    self._pending = (beat, _stack_of(frame))
                    del frame
                wait = self._period
            if self._stop.acquire(timeout=wait):
                return

    def _emit(self, seconds: float, stack: _Stack) -> None:
        # A green thread of its own, so handlers and receivers may do green I/O.
        try:
            text = "".join(traceback.StackSummary.from_list(stack).format())
            logger.warning(
                "the eventlet hub was blocked for %.3f s (threshold %g s); the stack of the"
                " code that blocked (most recent call last):\n%s",
                seconds,
                self._threshold,
                text.rstrip("\n"),
                extra={"blocked_seconds": seconds, "blocked_stack": text},
            )
            hub_blocked.send("eventlet", seconds=seconds, stack=text)
        except Exception:
            logging.getLogger("greenabc").exception("greenabc: reporting a blocked hub failed")
