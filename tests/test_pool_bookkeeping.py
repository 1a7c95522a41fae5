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
