"""The core's Pool on greenlets, with tasks blocked where real ones block: in
a (patched, green) socket read that never gets data."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import gevent
import pytest

import greenabc
from greenabc.adapter import EngineBackend

BOUND = 0.5  # "promptly", with room for a noisy machine


@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A connected socket whose peer never writes: recv() blocks forever."""
    reader, writer = socket.socketpair()
    with reader, writer:
        yield reader


def test_hard_timeout_interrupts_a_blocked_read_except_exception_and_all(
    pool: greenabc.Pool, silent: socket.socket
) -> None:
    reached: list[str] = []

    def stubborn() -> bytes:
        try:
            return silent.recv(1)
        except Exception:
            reached.append("except Exception")  # must not swallow the timeout
            return b"swallowed"
        finally:
            reached.append("finally")

    timed_out: list[BaseException] = []
    started = time.monotonic()
    task = pool.apply_async(stubborn, timeout=0.1, timeout_callback=timed_out.append)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(timeout=5)
    assert time.monotonic() - started < 0.1 + BOUND
    assert pool.join(timeout=2)
    assert reached == ["finally"]
    assert len(timed_out) == 1
    assert isinstance(timed_out[0], greenabc.TaskTimedOut)


def test_a_task_swallowing_base_exception_is_still_timed_out(
    pool: greenabc.Pool, silent: socket.socket
) -> None:
    def swallower() -> str:
        with contextlib.suppress(BaseException):
            silent.recv(1)
        return "I finished fine, honest"

    task = pool.apply_async(swallower, timeout=0.1)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(timeout=5)
    assert not task.successful()
    assert pool.join(timeout=2)
    assert pool.spawn(lambda: "worker reused").get(timeout=2) == "worker reused"


def test_soft_timeout_raises_soft_timeout_inside_a_blocked_read(
    pool: greenabc.Pool, silent: socket.socket
) -> None:
    def cleans_up() -> str:
        try:
            silent.recv(1)
        except greenabc.SoftTimeout:
            return "cleaned up"
        return "not interrupted"

    task = pool.apply_async(cleans_up, soft_timeout=0.1, timeout=5)
    assert task.get(timeout=2) == "cleaned up"


def test_kill_of_a_blocked_read_returns_within_a_bound(
    pool: greenabc.Pool, silent: socket.socket
) -> None:
    task = pool.spawn(silent.recv, 1)
    gevent.sleep(0.01)
    started = time.monotonic()
    assert task.kill(timeout=BOUND) is True
    assert time.monotonic() - started < BOUND
    with pytest.raises(greenabc.TaskKilled):
        task.get(0)


def test_resize_wakes_a_blocked_spawn_at_once(backend: EngineBackend) -> None:
    # Unlike gevent.pool.Pool, whose size attribute leaves its semaphore be.
    with backend.create_pool(1) as pool:
        release = gevent.event.Event()
        pool.spawn(release.wait, 5)
        spawner = gevent.spawn(pool.spawn, int)
        gevent.sleep(0.05)
        assert not spawner.dead  # blocked: the pool is full
        resized_at = time.monotonic()
        pool.resize(2)
        spawner.join(timeout=BOUND)
        assert spawner.dead
        assert time.monotonic() - resized_at < BOUND
        assert spawner.value.get(timeout=1) == 0
        release.set()


def test_close_with_a_deadline_is_bounded_even_with_tasks_blocked_in_reads(
    backend: EngineBackend,
) -> None:
    pairs = [socket.socketpair() for _ in range(20)]  # one reader per socket, gevent insists
    try:
        pool = backend.create_pool(20)
        tasks = [pool.spawn(reader.recv, 1) for reader, _ in pairs]
        gevent.sleep(0.01)
        started = time.monotonic()
        assert pool.close(timeout=0.2) is False
        assert time.monotonic() - started < 0.2 + BOUND
    finally:
        for pair in pairs:
            for sock in pair:
                sock.close()
    for task in tasks:
        with pytest.raises(greenabc.TaskKilled):
            task.get(0)
    assert pool.stats()["accepted"] == 0


def test_a_timeout_scope_interrupts_a_blocked_read(silent: socket.socket) -> None:
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired), greenabc.timeout(0.1):
        silent.recv(1)
    assert 0.1 <= time.monotonic() - started < 0.1 + BOUND


def test_many_tasks_blocked_at_once_are_all_timed_out_on_time(backend: EngineBackend) -> None:
    with backend.create_pool(1000) as pool:
        started = time.monotonic()
        tasks = [pool.apply_async(gevent.sleep, (30,), timeout=0.2) for _ in range(1000)]
        for task in tasks:
            with pytest.raises(greenabc.TaskTimedOut):
                task.get(timeout=5)
        assert time.monotonic() - started < 0.2 + 2 * BOUND
        assert pool.join(timeout=2)
        assert pool.stats()["timed_out"] == 1000
