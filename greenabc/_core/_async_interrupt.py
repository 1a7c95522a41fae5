"""Interrupting an OS thread: an asynchronous exception, raised where CPython
next checks (a Python call, a loop jump), for any engine whose tasks are OS
threads.

CPython 3.11 only: while an asynchronous exception waits for a thread that is
blocked in C, every traced thread (coverage, a debugger) spins at its next
function call until that thread wakes: a stall, and a deadlock when the
blocked thread waits for a stalled one. 3.10, 3.12 and later do not. Under a
tracer on 3.11, :func:`send_async_interrupt` therefore takes back, after
:data:`WITHDRAW_AFTER`, an interrupt still waiting on a thread that stands
where it may be blocked in C, from an untraced thread of its own; the
caller's re-send (greenabc's core re-sends every 10 ms until the task ends)
delivers it once the thread is back in Python.
"""

from __future__ import annotations

import contextlib
import ctypes
import dis
import os
import sys
import threading
import time
from collections import deque

_set_async_exc = getattr(ctypes.pythonapi, "PyThreadState_SetAsyncExc", None)

#: True where this interpreter can raise an exception in another thread.
ASYNC_INTERRUPTS = _set_async_exc is not None

_TRACING_STALLS = sys.version_info[:2] == (3, 11)
#: Where a thread stands when it may be blocked in C (a call, a ``with``'s
#: __enter__, or its __exit__ with an exception, an iterator): not a moment to
#: leave it an interrupt under a tracer. (A compiled __exit__, the core's
#: timeout scope's, waits for a lock in C when a stalled sender holds it.)
_MAY_BLOCK = frozenset(
    dis.opmap[name]
    for name in (
        "CALL",
        "PRECALL",
        "CALL_FUNCTION_EX",
        "BEFORE_WITH",
        "WITH_EXCEPT_START",
        "GET_ITER",
        "FOR_ITER",
    )
    if name in dis.opmap
)
#: Under a tracer on 3.11, an interrupt still waiting on a thread in C after
#: this long is taken back.
WITHDRAW_AFTER = 0.005


def send_async_interrupt(ident: int, exc_type: type[BaseException]) -> None:
    """Raise *exc_type* in the OS thread *ident* at its next check. Never
    blocks; a no-op where :data:`ASYNC_INTERRUPTS` is False. Nothing sent is
    ever cleared (on 3.11, ``PyThreadState_SetAsyncExc(id, NULL)`` leaves a
    flag set that a traced eval loop spins on): a thread drains one that
    arrives too late by calling an empty Python function inside ``try``.
    Safe on CPython 3.11 under a tracer (see the module's docstring)."""
    if _set_async_exc is None:
        return
    with _shield_lock:
        _sending.add(ident)  # before looking: see shield()
        try:
            if ident in _shielded:  # mid-operation: dropped; greenabc re-sends its interrupts
                return
            if _TRACING_STALLS and _traced():  # first: a traced caller stalls once it has sent
                _withdrawals.add(ident)
            _set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(exc_type))
        finally:
            _sending.discard(ident)


_shield_lock = threading.Lock()  # one sender at a time
_shielded: set[int] = set()
_sending: set[int] = set()  # the thread a sender is deciding about (under _shield_lock)
_nested: dict[int, int] = {}  # thread -> shields taken inside its outermost one


def shield() -> None:
    """From here until :func:`unshield`, no interrupt is sent to the calling
    thread (one arriving meanwhile is dropped: greenabc re-sends kills,
    hard timeouts and scope expiries every 10 ms). One sent before is raised
    here, so a caller that shields, then moves data, then unshields is never
    interrupted half-way. Keep the shielded part to a few lines that cannot
    block. Shields nest: one taken inside another (a ``ThreadEvent`` set in
    a shielded clean-up) ends with its own ``unshield``, not the outer one."""
    me = threading.get_ident()
    if me in _shielded:  # nothing can have been sent since the outer shield
        _nested[me] = _nested.get(me, 0) + 1
        return
    try:
        # No lock, in the order that makes it safe (set operations are
        # atomic): a sender marks the thread in _sending, then looks in
        # _shielded; we add ourselves to _shielded, then look in _sending.
        # One of the two sees the other: the sender drops its interrupt, or
        # we wait for it to have sent, and raise it here.
        _shielded.add(me)
        if me in _sending:
            with _shield_lock:
                pass
        _checkpoint()  # one sent before the shield is raised here, before anything moves
    except BaseException:
        unshield()
        raise


def shield_dropping() -> None:
    """:func:`shield`, dropping an interrupt sent before instead of raising
    it: for the clean-up of code already interrupted (the interrupt it
    handles is re-sent every 10 ms and lands at any bytecode)."""
    while True:
        with contextlib.suppress(BaseException):
            shield()  # raises one sent before: take the shield again
            return


def unshield() -> None:
    """End the calling thread's innermost :func:`shield`."""
    me = threading.get_ident()
    depth = _nested.get(me, 0)
    if depth > 1:
        _nested[me] = depth - 1
    elif depth:
        del _nested[me]
    else:
        _shielded.discard(me)


def _traced() -> bool:
    return sys.gettrace() is not None or threading.gettrace() is not None


def _checkpoint() -> None:
    """Calling this raises an asynchronous exception already sent here."""


class _Withdrawn(BaseException):
    """Raised in the withdrawing thread itself to clear the flag that taking
    an interrupt back leaves set."""


class _Withdrawals:
    """One untraced daemon thread that takes back, :data:`WITHDRAW_AFTER`
    after each was sent, interrupts still waiting on a thread in C. Started
    on first use (and anew after fork); every entry has the same delay, so a
    FIFO is in deadline order."""

    def __init__(self) -> None:
        self._pid = 0  # the process whose thread serves _due
        self._start_lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._due: deque[tuple[float, int]] = deque()

    def add(self, ident: int) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._cond:
            self._due.append((time.monotonic() + WITHDRAW_AFTER, ident))
            self._cond.notify()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._cond = threading.Condition(threading.Lock())
            self._due = deque()
            threading.Thread(target=self._run, name="greenabc-withdraw", daemon=True).start()
            self._pid = os.getpid()

    def _run(self) -> None:
        sys.settrace(None)  # never traced: a traced thread would stall here too
        cond, due = self._cond, self._due
        while True:
            with cond:
                while not due or due[0][0] > time.monotonic():
                    cond.wait(due[0][0] - time.monotonic() if due else None)
                _, ident = due.popleft()
            _withdraw(ident)


def _withdraw(ident: int) -> None:
    """Take back an interrupt that still waits on a thread blocked in C, so
    traced threads stall for ``WITHDRAW_AFTER`` at most, never until that
    thread wakes."""
    frame = sys._current_frames().get(ident)
    if frame is None or frame.f_code.co_code[frame.f_lasti] not in _MAY_BLOCK:
        return  # running Python: it has raised it, or does so at once
    assert _set_async_exc is not None
    _set_async_exc(ctypes.c_ulong(ident), None)
    me = ctypes.c_ulong(threading.get_ident())
    try:  # that leaves the interpreter's flag set: raising one here clears it
        _set_async_exc(me, ctypes.py_object(_Withdrawn))
        _checkpoint()
    except _Withdrawn:
        pass


_withdrawals = _Withdrawals()
