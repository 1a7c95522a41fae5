"""The standard library's synchronisation primitives, derived once over an
Engine's ``core_*`` primitives (a short-held state lock, an event, a
semaphore) and ``current()`` / ``monotonic()``: Event, Lock, RLock,
Semaphore, BoundedSemaphore, Condition, Queue, local. They are the defaults
of ``greenabc.adapter.GreenEngineBase``; an engine may return native ones
instead.
"""

from __future__ import annotations

import queue as _queue_module
import weakref
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from ..interfaces import CoreSemaphore, Engine, SyncEvent, SyncLock

T = TypeVar("T")

#: The standard library's exceptions, which every Queue raises.
Full = _queue_module.Full
Empty = _queue_module.Empty

# --------------------------------------------------------------------------
# Derived primitives: the standard library's semantics over an Engine.


class DerivedEvent:
    """``threading.Event`` over an engine: a flag, and one engine event per
    waiter (set under the engine's state lock, which never switches)."""

    __slots__ = ("_engine", "_flag", "_lock", "_waiters")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = engine.core_lock()
        self._flag = False
        self._waiters: list[SyncEvent] = []

    def __repr__(self) -> str:
        return f"<greenabc Event {'set' if self._flag else 'unset'}>"

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._lock:
            self._flag = True
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.set()

    def clear(self) -> None:
        with self._lock:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        with self._lock:
            if self._flag:
                return True
            waiter = self._engine.core_event()
            self._waiters.append(waiter)
        try:
            woken = waiter.wait(timeout)
        finally:
            with self._lock:
                woken = waiter.is_set()
                if not woken and waiter in self._waiters:
                    self._waiters.remove(waiter)
        return woken or self._flag


def _lock_timeout(blocking: bool, timeout: float) -> float | None:
    """``threading.Lock.acquire``'s argument rules; the timeout to pass on."""
    if not blocking:
        if timeout != -1:
            raise ValueError("can't specify a timeout for a non-blocking call")
        return None
    if timeout == -1:
        return None
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    return timeout


class _WithAcquire:
    """``with lock:`` as ``acquire()`` ... ``release()``, for every lock here."""

    __slots__ = ()

    def acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.release()


class DerivedLock(_WithAcquire):
    """``threading.Lock`` over the engine's semaphore."""

    __slots__ = ("_locked", "_sem")

    def __init__(self, engine: Engine) -> None:
        self._sem: CoreSemaphore = engine.core_semaphore(1)
        self._locked = False

    def __repr__(self) -> str:
        return f"<greenabc Lock {'locked' if self._locked else 'unlocked'}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        seconds = _lock_timeout(blocking, timeout)
        if self._sem.acquire(blocking, seconds):
            self._locked = True
            return True
        return False

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        self._sem.release()

    def locked(self) -> bool:
        return self._locked


class DerivedRLock(_WithAcquire):
    """``threading.RLock``: reentrant for its owner (``engine.current()``);
    released by anyone else, ``RuntimeError``."""

    __slots__ = ("_block", "_count", "_engine", "_owner")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._block = DerivedLock(engine)
        self._owner: object = None
        self._count = 0

    def __repr__(self) -> str:
        return f"<greenabc RLock owner={self._owner!r} count={self._count}>"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = self._engine.current()
        if self._count and self._owner == me:
            self._count += 1
            return True
        if self._block.acquire(blocking, timeout):
            self._owner = me
            self._count = 1
            return True
        return False

    def release(self) -> None:
        if not self._count or self._owner != self._engine.current():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if not self._count:
            self._owner = None
            self._block.release()

    # For Condition: give the lock up entirely while waiting, then restore.
    def _is_owned(self) -> bool:
        return bool(self._count) and self._owner == self._engine.current()

    def _release_save(self) -> tuple[int, object]:
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        self._count = 0
        self._owner = None
        self._block.release()
        return state

    def _acquire_restore(self, state: tuple[int, object]) -> None:
        self._block.acquire()
        self._count, self._owner = state


class DerivedSemaphore(_WithAcquire):
    """``threading.Semaphore`` over the engine's semaphore."""

    __slots__ = ("_sem",)

    def __init__(self, engine: Engine, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._sem: CoreSemaphore = engine.core_semaphore(value)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if not blocking and timeout is not None:
            raise ValueError("can't specify timeout for non-blocking acquire")
        return self._sem.acquire(blocking, timeout)

    def release(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError("n must be one or more")
        for _ in range(n):
            self._sem.release()


class DerivedBoundedSemaphore(DerivedSemaphore):
    """``threading.BoundedSemaphore``: releasing above the initial value
    raises ``ValueError``."""

    __slots__ = ("_initial", "_lock", "_value")

    def __init__(self, engine: Engine, value: int = 1) -> None:
        super().__init__(engine, value)
        self._lock = engine.core_lock()
        self._initial = self._value = value

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if super().acquire(blocking, timeout):
            with self._lock:
                self._value -= 1
            return True
        return False

    def release(self, n: int = 1) -> None:
        if n < 1:
            raise ValueError("n must be one or more")
        with self._lock:
            # _value may lag an acquire in progress (too high, never too
            # low), so a legitimate release never trips this.
            if self._value + n > self._initial:
                raise ValueError("Semaphore released too many times")
            self._value += n
        for _ in range(n):
            self._sem.release()


class DerivedCondition:
    """``threading.Condition`` over an engine (default lock: an RLock). Each
    waiter parks on an engine event; ``notify`` sets it under the lock, so a
    waiter that timed out can tell whether it was notified."""

    def __init__(self, engine: Engine, lock: SyncLock | None = None) -> None:
        self._engine = engine
        self._lock: SyncLock = DerivedRLock(engine) if lock is None else lock
        self.acquire = self._lock.acquire
        self.release = self._lock.release
        self._waiters: deque[SyncEvent] = deque()
        for name in ("_is_owned", "_release_save", "_acquire_restore"):
            method = getattr(self._lock, name, None)
            if method is not None:
                setattr(self, name, method)

    def __repr__(self) -> str:
        return f"<greenabc Condition({self._lock!r}, {len(self._waiters)} waiting)>"

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self._lock.__exit__(exc_type, exc, tb)

    # Defaults for a plain lock (an RLock's own methods replace them).
    def _is_owned(self) -> bool:
        if self._lock.acquire(False):
            self._lock.release()
            return False
        return True

    def _release_save(self) -> Any:
        self._lock.release()
        return None

    def _acquire_restore(self, state: Any) -> None:
        self._lock.acquire()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = self._engine.core_event()
        self._waiters.append(waiter)
        saved = self._release_save()
        try:
            waiter.wait(timeout)
        finally:
            self._acquire_restore(saved)
            # notify() pops under the lock: listed still means not notified.
            notified = waiter not in self._waiters
            if not notified:
                self._waiters.remove(waiter)
        return notified

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        end = None
        waittime = timeout
        result = predicate()
        while not result:
            if waittime is not None:
                if end is None:
                    end = self._engine.monotonic() + waittime
                else:
                    waittime = end - self._engine.monotonic()
                    if waittime <= 0:
                        break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self._waiters
        while waiters and n > 0:
            waiters.popleft().set()
            n -= 1

    def notify_all(self) -> None:
        self.notify(len(self._waiters))


class DerivedQueue:
    """``queue.Queue`` (FIFO, *maxsize* <= 0 means unbounded, ``task_done`` /
    ``join``) over the core's Lock and Condition; raises ``queue.Full`` and
    ``queue.Empty``."""

    def __init__(self, engine: Engine, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self.queue: deque[Any] = deque()
        self._monotonic = engine.monotonic
        self.mutex = DerivedLock(engine)
        self.not_empty = DerivedCondition(engine, self.mutex)
        self.not_full = DerivedCondition(engine, self.mutex)
        self.all_tasks_done = DerivedCondition(engine, self.mutex)
        self.unfinished_tasks = 0

    def __repr__(self) -> str:
        return f"<greenabc Queue maxsize={self.maxsize} qsize={len(self.queue)}>"

    def task_done(self) -> None:
        with self.all_tasks_done:
            unfinished = self.unfinished_tasks - 1
            if unfinished <= 0:
                if unfinished < 0:
                    raise ValueError("task_done() called too many times")
                self.all_tasks_done.notify_all()
            self.unfinished_tasks = unfinished

    def join(self) -> None:
        with self.all_tasks_done:
            while self.unfinished_tasks:
                self.all_tasks_done.wait()

    def qsize(self) -> int:
        return len(self.queue)

    def empty(self) -> bool:
        return not self.queue

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self.queue)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self.not_full:
            if self.maxsize > 0:
                if not block:
                    if len(self.queue) >= self.maxsize:
                        raise Full
                elif timeout is None:
                    while len(self.queue) >= self.maxsize:
                        self.not_full.wait()
                elif timeout < 0:
                    raise ValueError("'timeout' must be a non-negative number")
                else:
                    end = self._monotonic() + timeout
                    while len(self.queue) >= self.maxsize:
                        remaining = end - self._monotonic()
                        if remaining <= 0.0:
                            raise Full
                        self.not_full.wait(remaining)
            self.queue.append(item)
            self.unfinished_tasks += 1
            self.not_empty.notify()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self.not_empty:
            if not block:
                if not self.queue:
                    raise Empty
            elif timeout is None:
                while not self.queue:
                    self.not_empty.wait()
            elif timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
            else:
                end = self._monotonic() + timeout
                while not self.queue:
                    remaining = end - self._monotonic()
                    if remaining <= 0.0:
                        raise Empty
                    self.not_empty.wait(remaining)
            item = self.queue.popleft()
            self.not_full.notify()
            return item

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)

    def get_nowait(self) -> Any:
        return self.get(block=False)


class DerivedLocal:
    """Attributes per green thread, keyed by ``engine.current()``: weakly,
    so a finished green thread's values go with it."""

    def __init__(self, engine: Engine) -> None:
        dicts: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
        strong: dict[Any, dict[str, Any]] = {}  # handles that cannot be weakly referenced
        object.__setattr__(self, "_greenabc_local", (engine, dicts, strong))

    def _greenabc_dict(self) -> dict[str, Any]:
        engine, dicts, strong = object.__getattribute__(self, "_greenabc_local")
        key = engine.current()
        try:
            found = dicts.get(key)
            if found is None:
                found = dicts[key] = {}
        except TypeError:  # not weakly referenceable
            found = strong.setdefault(key, {})
        return found  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:  # only for names not found normally
        try:
            return self._greenabc_dict()[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._greenabc_dict()[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._greenabc_dict()[name]
        except KeyError:
            raise AttributeError(name) from None


def release_n(release: Callable[[Any], object]) -> Callable[..., None]:
    """``threading.Semaphore.release(n=1)`` made from an engine semaphore's
    one-at-a-time ``release``: for adapters whose native class lacks *n*."""

    def release_many(self: Any, n: int = 1) -> None:
        if n == 1:
            release(self)
            return
        if n < 1:
            raise ValueError("n must be one or more")
        for _ in range(n):
            release(self)

    return release_many
