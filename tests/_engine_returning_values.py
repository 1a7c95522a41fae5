"""An engine whose methods return values where greenabc ignores them (as a
native primitive may: gevent's ``Semaphore.release()`` returns the count),
driven through the pool, task timeouts, kills, timeout scopes and timers.
Run as a script by ``tests/test_compiled.py``, in each form of the core; it
prints ``ok`` or dies with the core's error."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import greenabc
from greenabc._threads import CAPABILITIES, ThreadEngine
from greenabc.adapter import EngineBackend

#: The methods whose result greenabc ignores (``-> object`` in its protocols).
IGNORED = {"cancel", "put", "release", "set"}


class Returning:
    """*inner*, whose methods in :data:`IGNORED` return True where they returned None."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in IGNORED:
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            return True if result is None else result

        return call


class Engine(ThreadEngine):
    def call_later(self, delay: float, fn: Callable[..., object], /, *args: Any) -> Any:
        return Returning(super().call_later(delay, fn, *args))

    def interrupt(self, *args: Any) -> object:
        super().interrupt(*args)
        return True

    def checkpoint(self) -> object:
        super().checkpoint()
        return 1

    def core_event(self) -> Any:
        return Returning(super().core_event())

    def core_queue(self) -> Any:
        return Returning(super().core_queue())

    def core_semaphore(self, value: int) -> Any:
        return Returning(super().core_semaphore(value))


def naps(seconds: float) -> None:
    """Sleep in short steps: on threads an interrupt lands between two."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.002)


def main() -> None:
    backend = EngineBackend("returning", Engine(), CAPABILITIES, default_pool_size=8)
    pool = backend.create_pool(4)
    assert [task.get(5) for task in [pool.spawn(time.sleep, 0.01) for _ in range(8)]] == [None] * 8
    late = pool.apply_async(naps, (5,), timeout=0.05)  # a deadline filed, then expiring
    try:
        late.get(5)
        raise AssertionError("no timeout")
    except greenabc.TaskTimedOut:
        pass
    early = pool.apply_async(time.sleep, (0.01,), timeout=10)  # a deadline cancelled
    early.get(5)
    killed = pool.spawn(naps, 5)
    time.sleep(0.05)
    killed.kill()
    assert killed.wait(5)
    try:
        with backend.timeout(0.05):
            naps(5)
        raise AssertionError("the scope did not expire")
    except greenabc.TimeoutExpired:
        pass
    with backend.timeout(10):  # a scope that ends first
        time.sleep(0.01)
    timer = backend.create_timer()
    fired = backend.Event()
    timer.call_after(0.01, fired.set)
    timer.cancel(timer.call_after(10, print))
    assert fired.wait(5)
    timer.stop()
    pool.close(timeout=5)
    print("ok")


if __name__ == "__main__":
    main()
