"""The warm-shutdown clock of greenabc's Celery pool: it counts from the signal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from time import monotonic
from typing import Any

from celery import signals as celery_signals

import greenabc

__all__ = ["ShutdownClock"]


class ShutdownClock:
    """When the worker was told to stop, and the stop of the tasks still
    running *timeout* seconds later (*on_deadline*), wherever Celery is by then.

    Celery reaches the pool's ``on_stop`` seconds after the signal (its
    blocking loop, which runs green pools, drains the broker 2 s at a time,
    then it stops the control loop): counted from there, the bound was the
    user's figure plus Celery's. So the receiver of Celery's
    ``worker_shutting_down`` (sent from the signal handler) notes the time
    and wakes a watcher through a pipe: a byte written is all a signal
    handler may do here, since it can run inside any green thread, one in
    the middle of taking a lock included. The watcher stops what is still
    running at the deadline; ``on_stop`` then waits only what is left of it.
    """

    _SIGNALLED, _STOPPED = b"T", b"S"

    def __init__(
        self,
        backend: greenabc.Backend,
        hostname: str | None,
        timeout: float,
        on_deadline: Callable[[], object],
    ) -> None:
        self.hostname = hostname
        self.timeout = timeout
        self._on_deadline = on_deadline
        self._wait_readable = backend.wait_readable
        self.signalled_at: float | None = None  # monotonic() at the signal
        self.signal: str | None = None  # its name, as Celery's handler gives it
        self._began: float | None = None  # the pool's stop, when no signal came
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._write_end: int | None = self._write
        self._watcher = greenabc.spawn(self._watch)
        celery_signals.worker_shutting_down.connect(self._on_shutting_down, weak=False)

    def _on_shutting_down(
        self, sender: Any = None, sig: Any = None, how: Any = None, **_: Any
    ) -> None:
        # In Celery's signal handler: note the time, write one byte, nothing else.
        hostname = self.hostname
        if how != "Warm" or (hostname is not None and sender != hostname):
            return
        if self.signalled_at is None:
            self.signalled_at = monotonic()
            self.signal = str(sig) if sig else None
            self._poke(self._SIGNALLED)

    def _poke(self, byte: bytes) -> None:
        fd = self._write_end
        if fd is not None:
            with contextlib.suppress(OSError):  # the pipe is full: the watcher is awake
                # writev, not write: eventlet patches os.write into a green
                # wait, which refuses to run in its hub, where a signal
                # handler can land; no engine patches writev.
                os.writev(fd, [byte])

    def since(self) -> str:
        """What the shutdown clock counts from, for the messages."""
        return (
            f"the worker's {self.signal}"
            if self.signalled_at is not None and self.signal
            else "the worker was asked to stop"
        )

    def begin(self) -> None:
        """The pool's stop begins: the clock's origin, if no signal gave one."""
        if self.signalled_at is None and self._began is None:
            self._began = monotonic()

    def elapsed(self) -> float:
        origin = self.signalled_at if self.signalled_at is not None else self._began
        return monotonic() - origin if origin is not None else 0.0

    def left(self, timeout: float) -> float:
        """Seconds left of *timeout* counted from the signal (from now if
        there was none: a remote ``shutdown``, an embedded worker)."""
        return max(timeout - self.elapsed(), 0.0)

    def _watch(self) -> None:
        wait = self._wait_readable
        timeout: float | None = None
        while True:
            if not wait(self._read, timeout):
                self._on_deadline()  # the deadline, counted from the signal
                timeout = None
                continue
            byte = os.read(self._read, 1)
            if byte != self._SIGNALLED:
                return  # the pool stops: on_stop takes it from here
            timeout = self.left(self.timeout)

    def close(self) -> None:
        """Stop the watcher and release the pipe (the pool is stopping)."""
        if self._write_end is None:
            return  # closed already (a cold shutdown after a warm one)
        celery_signals.worker_shutting_down.disconnect(self._on_shutting_down)
        self._poke(self._STOPPED)
        self._write_end = None  # a late signal writes nothing
        if not self._watcher.wait(5):
            self._watcher.kill(block=False)  # never seen: keep the fds open for it
            return
        os.close(self._write)
        os.close(self._read)
