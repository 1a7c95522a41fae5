"""Tasks the worker applied while every slot was busy, started in order as
slots free, so that applying never blocks the worker's event loop.

On an OS-thread backend Celery runs its event loop (``asynloop``) and hands
the pool each message it prefetched as soon as it arrives, up to
``worker_prefetch_multiplier`` x ``-c``. A greenabc Pool's ``apply_async``
waits for a free slot; waiting there, the loop reads nothing, acks nothing
and answers no control command until a task ends (3 workers x ``-c 200`` ran
0.63x the tasks/s of ``-P threads``). Celery's own threads pool queues them
(``ThreadPoolExecutor``); so does this: when a slot is free and none waits,
the caller starts its task itself, else the task waits here and a feeder (a
thread of the backend, outside the pool) starts it once a slot frees.

Green workers run Celery's blocking ``synloop``, which waits in the pool's
apply as it does in Celery's own green pools: they use no backlog.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import greenabc

__all__ = ["Backlog"]

logger = logging.getLogger("greenabc.celery")


class Backlog:
    """*size* slots; ``submit`` starts a task now or queues it, ``release``
    says a started task ended (each exactly once)."""

    def __init__(self, size: int) -> None:
        self._free = size  # slots not held by a task started here
        self._waiting: deque[Callable[[], object]] = deque()
        self._lock = greenabc.Lock()
        self._wake = greenabc.Event()
        self._closed = False
        # Waits, unbounded, for work or for close(): it ends with the pool.
        self._feeder = greenabc.spawn(self._feed)

    def __len__(self) -> int:
        return len(self._waiting)

    def submit(self, start: Callable[[], object]) -> None:
        """Call *start* (which applies one task to the pool) now if a slot
        is free and none waits, else when one frees, in order."""
        with self._lock:
            if self._closed:
                raise greenabc.PoolClosed("the worker's pool is stopping: no task is started")
            now = self._free > 0 and not self._waiting
            if now:
                self._free -= 1
            else:
                self._waiting.append(start)
        if now:
            start()
        else:
            self._wake.set()

    def release(self) -> None:
        """A task started through ``submit`` ended: its slot is free."""
        self.resize(1)

    def resize(self, delta: int) -> None:
        """The pool grew (or shrank) by *delta* slots (autoscale)."""
        with self._lock:
            self._free += delta
            wake = self._free > 0 and bool(self._waiting)
        if wake:
            self._wake.set()

    def close(self) -> int:
        """Start nothing more; the tasks still waiting are dropped (never
        accepted, so never acknowledged: the broker gives them again).
        Returns how many."""
        with self._lock:
            self._closed = True
            dropped = len(self._waiting)
            self._waiting.clear()
        self._wake.set()
        self._feeder.wait(1.0)
        return dropped

    def _feed(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()  # a set() from here on wakes the next wait
            while True:
                with self._lock:
                    if self._closed:
                        return
                    if self._free <= 0 or not self._waiting:
                        break
                    self._free -= 1
                    start = self._waiting.popleft()
                # The slot the ended task held is freed just after its callback:
                # apply_async may wait that moment, here, not in the worker's loop.
                try:
                    start()
                except greenabc.PoolClosed:
                    return
                except Exception:  # the next task still starts
                    logger.exception("greenabc: starting a task from the backlog failed")
                    self.release()
