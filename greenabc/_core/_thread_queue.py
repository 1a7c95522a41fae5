"""``queue.Queue`` whose ``get`` and ``put`` an interrupt cannot split.

On OS threads an interrupt is an asynchronous exception, raised at whatever
bytecode the thread is at. In ``queue.Queue.get`` it can land after the item
left the queue and before ``get`` returns it (in ``notify``, in the lock's
``__exit__``): the item is lost. Here the moving part (take or add the item,
notify, release the lock) runs shielded (``_async_interrupt.shield``): an
interrupt lands while the call waits, when nothing has moved, or after it
returned. What the caller does with the returned item is the caller's own
window (docs/reliability.md).
"""

from __future__ import annotations

import queue
import threading
from time import monotonic
from typing import Any

from ._async_interrupt import shield, unshield


class ThreadQueue(queue.Queue):  # type: ignore[type-arg]
    """``queue.Queue``, interrupt-safe (see the module docstring)."""

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        # Reentrant, so an interrupt handler can ask whether *this* thread
        # holds the mutex (it may land just before the lock is taken, or
        # inside Condition.wait before it is taken back): a plain Lock would
        # let it release another thread's hold.
        self.mutex = threading.RLock()  # type: ignore[assignment]
        self.not_empty = threading.Condition(self.mutex)
        self.not_full = threading.Condition(self.mutex)
        self.all_tasks_done = threading.Condition(self.mutex)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        cond = self.not_empty
        try:
            cond.acquire()
            if not self.queue:  # else: ready, no wait (the common case)
                self._wait(cond, self._qsize, block, timeout, queue.Empty)
            shield()  # raises an interrupt sent before: nothing has moved
        except BaseException:
            self._release_if_held()
            raise
        try:
            item = self._get()
            self.not_full.notify()
        finally:
            cond.release()
            unshield()
        return item

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        cond = self.not_full
        try:
            cond.acquire()
            if 0 < self.maxsize <= len(self.queue):
                self._wait(cond, self._has_room, block, timeout, queue.Full)
            shield()
        except BaseException:
            self._release_if_held()
            raise
        try:
            self._put(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()
        finally:
            cond.release()
            unshield()

    def _release_if_held(self) -> None:
        if self.mutex._is_owned():  # type: ignore[attr-defined]
            self.mutex.release()

    def _has_room(self) -> int:
        return int(self._qsize() < self.maxsize)

    @staticmethod
    def _wait(
        cond: Any, ready: Any, block: bool, timeout: float | None, empty_or_full: type[Exception]
    ) -> None:
        """queue.Queue's waiting rules, with *cond* held."""
        if not block:
            if not ready():
                raise empty_or_full
        elif timeout is None:
            while not ready():
                cond.wait()
        elif timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        else:
            end = monotonic() + timeout
            while not ready():
                remaining = end - monotonic()
                if remaining <= 0.0:
                    raise empty_or_full
                cond.wait(remaining)
