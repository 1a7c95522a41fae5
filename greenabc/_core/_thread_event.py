"""``threading.Event``, safe to interrupt, for engines whose tasks are OS threads.

greenabc interrupts a thread with an asynchronous exception, raised between
any two bytecodes. In ``threading.Event.wait`` it can land inside
``Condition.wait``'s bookkeeping, after the condition's lock was let go and
before the ``try`` that takes it back: leaving the ``with`` then releases an
unlocked lock, and the thread raises ``RuntimeError: release unlocked lock``
instead of its interrupt (found by the kit's scope storm around ``aio.run``,
under coverage). Here the bookkeeping runs shielded (``_async_interrupt``:
an interrupt sent meanwhile is dropped, and greenabc sends it again 10 ms
later), and only the wait itself, a C call that holds nothing, is open to
one.
"""

from __future__ import annotations

import contextlib
import threading

from ._async_interrupt import shield, unshield


class ThreadEvent:
    """``threading.Event``'s API: a flag, and a lock per waiting thread that
    ``set()`` releases."""

    __slots__ = ("_flag", "_mutex", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._mutex = threading.Lock()
        self._waiters: list[threading.Lock] = []

    def __repr__(self) -> str:
        return f"<greenabc ThreadEvent {'set' if self._flag else 'unset'}>"

    def is_set(self) -> bool:
        return self._flag

    isSet = is_set  # noqa: N815 - threading.Event's old name

    def set(self) -> None:
        shield()  # raises an interrupt sent before: nothing has moved
        try:
            with self._mutex:
                self._flag = True
                waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                waiter.release()
        finally:
            unshield()

    def clear(self) -> None:
        with self._mutex:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        shield()
        try:
            with self._mutex:
                if self._flag:
                    return True
                waiter = threading.Lock()  # looked up now: patching may replace it
                waiter.acquire()
                self._waiters.append(waiter)
        finally:
            unshield()
        try:
            woken = waiter.acquire(True, -1 if timeout is None else max(timeout, 0.0))
        except BaseException:
            self._forget(waiter)
            raise
        if not woken:
            self._forget(waiter)
        return woken or self._flag

    def _forget(self, waiter: threading.Lock) -> None:
        # An interrupt landing in a caller's handler before this leaves a
        # stale waiter behind: the next set() releases it, harmlessly.
        with self._mutex, contextlib.suppress(ValueError):  # set() took it already
            self._waiters.remove(waiter)
