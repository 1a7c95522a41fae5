"""The core pool's own bookkeeping (engine-independent; run on threads)."""

from __future__ import annotations

import threading

import greenabc
from greenabc.adapter import EnginePool


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


def test_deadlines_of_tasks_that_ended_are_not_kept() -> None:
    # A long timeout: the entries of ended tasks are dropped as the queue
    # grows, not kept for an hour.
    pool = greenabc.get_pool("threads", 4)
    assert isinstance(pool, EnginePool)
    tasks = [pool.apply_async(int, (i,), timeout=3600.0) for i in range(5000)]
    assert [t.get(timeout=10) for t in tasks[-3:]] == [4997, 4998, 4999]
    assert pool.join(10)
    assert pool._hard is not None
    assert sum(len(queue) for queue in pool._hard._queues.values()) < 2100
    pool.close(timeout=10)


def test_scopes_that_ended_are_not_kept() -> None:
    backend = greenabc.get_backend("threads")
    for _ in range(5000):
        with backend.timeout(3600.0):
            pass
    deadlines = backend._scope_deadlines  # type: ignore[attr-defined]
    assert sum(len(queue) for queue in deadlines._queues.values()) < 2100
