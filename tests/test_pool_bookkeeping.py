"""The core pool's own bookkeeping (engine-independent; run on threads)."""

from __future__ import annotations

import threading
import time
from typing import Any

import greenabc
from greenabc._core._deadlines import STALE_SLACK
from greenabc._core._pool import EnginePool


def test_joins_that_time_out_leave_nothing_behind() -> None:
    pool = greenabc.get_pool("threads", 2)
    assert isinstance(pool, EnginePool)
    done = threading.Event()
    pool.spawn(done.wait, 10)
    try:
        for _ in range(200):
            assert not pool.join(0)  # polling: no waiter is even created
        for _ in range(5):
            assert not pool.join(0.001)  # timed out: its waiter is removed
        assert pool._join_events == []
    finally:
        done.set()
    assert pool.join(10)
    pool.close(timeout=10)


def test_deadlines_of_tasks_and_scopes_that_ended_are_not_kept() -> None:
    # Far, distinct deadlines: the entries of ended tasks and scopes are
    # dropped as they go stale, not kept until their deadline.
    backend = greenabc.get_backend("threads")
    deadlines = backend.deadlines  # type: ignore[attr-defined]
    pool = backend.create_pool(4)
    tasks = [pool.apply_async(int, (i,), timeout=3600.0 + i) for i in range(5000)]
    assert [t.get(timeout=10) for t in tasks[-3:]] == [4997, 4998, 4999]
    assert pool.join(10)
    for i in range(5000):
        with backend.timeout(3600.0 + i):
            pass
    assert len(deadlines) == 0  # nothing live is due
    assert deadlines._filed <= STALE_SLACK + 1  # stale entries bounded by live ones
    pool.close(timeout=10)


class _CloseOnRelock:
    """The pool's lock, wrapped: the first time the spawning thread takes it
    after waiting for a slot, the pool is closed from another thread first
    (the window between the wake-up and the admission, made certain)."""

    def __init__(self, pool: EnginePool, lock: Any) -> None:
        self.pool, self.lock = pool, lock
        self.armed_for: int | None = None

    def acquire(self, *args: Any) -> bool:
        return bool(self.lock.acquire(*args))

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> bool:
        if self.armed_for == threading.get_ident():
            self.armed_for = None
            closer = threading.Thread(target=self.pool.close, args=(0,))
            closer.start()
            closer.join(10)
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_a_spawn_that_waited_for_a_slot_is_refused_if_the_pool_closed_meanwhile() -> None:
    pool = greenabc.get_pool("threads", 1)
    assert isinstance(pool, EnginePool)
    done = threading.Event()
    pool.spawn(done.wait, 10)
    lock = _CloseOnRelock(pool, pool._lock)
    pool._lock = lock  # type: ignore[assignment]
    ran: list[int] = []
    outcome: list[BaseException] = []

    def spawner() -> None:
        try:
            pool.spawn(ran.append, 1)
        except BaseException as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=spawner)
    waiting.start()
    while not pool._waiters:
        time.sleep(0.001)
    lock.armed_for = waiting.ident  # it re-takes the lock after its wait
    done.set()  # the first task ends: its slot goes to the waiting spawn
    waiting.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], greenabc.PoolClosed), outcome
    time.sleep(0.1)
    assert ran == []  # never admitted into the closed pool
