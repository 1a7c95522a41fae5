"""Per-task deadlines in a pool, at the cost of an append.

A pool's tasks with the same timeout start one after another, so their
deadlines come due in the order they were set: a FIFO per duration holds
them, and the engine holds a single call, for the earliest head. Setting a
deadline is an append and a task that ends early costs nothing (its entry is
skipped when it comes due), where an engine timer per task would be created,
started and cancelled each time (on gevent that was ~40 % of a task's cost).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ..interfaces import Cancellable, Engine, SyncLock
from ._task import logger

#: Entries of tasks that have ended are dropped when a queue grows past this
#: (doubling after each drop), so a long timeout does not keep them all.
_COMPACT_FIRST = 1024


class Deadlines:
    """Call ``expire(item)`` at each item's deadline while ``alive(item)``.

    :meth:`add` is called with *lock* held; ``expire`` is called without it,
    in the engine's scheduler, and must check for itself that the item is
    still worth expiring (``alive`` only spares the work for the dead).
    """

    __slots__ = (
        "_alive",
        "_compact_at",
        "_engine",
        "_expire",
        "_lock",
        "_queues",
        "_wake_at",
        "_wakeup",
    )

    def __init__(
        self,
        engine: Engine,
        lock: SyncLock,
        expire: Callable[[Any], object],
        alive: Callable[[Any], bool],
    ) -> None:
        self._engine = engine
        self._lock = lock
        self._expire = expire
        self._alive = alive
        self._queues: dict[float, deque[tuple[float, Any]]] = {}
        self._compact_at: dict[float, int] = {}
        self._wakeup: Cancellable | None = None
        self._wake_at = 0.0

    def add(self, seconds: float, item: Any) -> float:
        """Expire *item* *seconds* from now; returns that deadline. With the
        lock held."""
        deadline = self._engine.monotonic() + seconds
        queue = self._queues.get(seconds)
        if queue is None:
            queue = self._queues[seconds] = deque()
            self._compact_at[seconds] = _COMPACT_FIRST
        queue.append((deadline, item))
        if self._wakeup is None or deadline < self._wake_at:
            self._arm(deadline)
        elif len(queue) >= self._compact_at[seconds]:
            self._compact(seconds, queue)
        return deadline

    def _compact(self, seconds: float, queue: deque[tuple[float, Any]]) -> None:
        alive = self._alive
        kept = deque(entry for entry in queue if alive(entry[1]))
        self._queues[seconds] = kept
        self._compact_at[seconds] = max(_COMPACT_FIRST, 2 * len(kept))

    def _arm(self, deadline: float) -> None:
        if self._wakeup is not None:
            self._wakeup.cancel()
        self._wake_at = deadline
        delay = deadline - self._engine.monotonic()
        self._wakeup = self._engine.call_later(delay if delay > 0 else 0.0, self._fire)

    def _fire(self) -> None:
        due = []
        with self._lock:
            self._wakeup = None
            now = self._engine.monotonic()
            earliest = None
            for seconds, queue in list(self._queues.items()):
                while queue and queue[0][0] <= now:
                    due.append(queue.popleft()[1])
                if not queue:
                    del self._queues[seconds], self._compact_at[seconds]
                elif earliest is None or queue[0][0] < earliest:
                    earliest = queue[0][0]
            if earliest is not None:
                self._arm(earliest)  # also where an engine that fired early is caught up
        alive, expire = self._alive, self._expire
        for item in due:
            if alive(item):
                try:
                    expire(item)
                except Exception:  # one failure must not lose the other deadlines
                    logger.exception("greenabc: expiring %r failed", item)
