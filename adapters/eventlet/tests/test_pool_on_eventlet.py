"""The Pool on green threads, where Celery's eventlet pool and GreenPool fail.

Tasks here wait the way real green code does, on a socket or an event in
the hub, not in a sleep loop.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import eventlet
import pytest

import greenabc

Pools = Callable[[int], greenabc.Pool]
PROMPT = 2.0


@pytest.fixture
def silent_socket() -> Iterator[socket.socket]:
    """One end of a pair on which nothing ever arrives: recv() parks."""
    a, b = socket.socketpair()
    yield a
    a.close()
    b.close()


def test_hard_timeout_kills_a_task_that_catches_exception(
    make_pool: Pools, silent_socket: socket.socket
) -> None:
    pool = make_pool(2)
    attempts: list[int] = []

    def stubborn() -> None:
        while True:
            try:
                attempts.append(1)
                silent_socket.recv(1)
            except Exception:  # Celery's eventlet pool would never stop this
                pass

    timed_out: list[BaseException] = []
    started = time.monotonic()
    task = pool.apply_async(stubborn, timeout=0.1, timeout_callback=timed_out.append)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(timeout=PROMPT)
    assert time.monotonic() - started < PROMPT
    assert task.kill(timeout=PROMPT)  # the worker really left it
    assert len(attempts) == 1
    assert len(timed_out) == 1
    assert isinstance(timed_out[0], greenabc.TaskTimedOut)


def test_task_swallowing_base_exception_is_still_reported_timed_out(make_pool: Pools) -> None:
    pool = make_pool(2)
    release = threading.Event()  # green: the process is patched

    def swallower() -> str:
        with contextlib.suppress(BaseException):
            release.wait(PROMPT)
        return "a result that must be discarded"

    task = pool.apply_async(swallower, timeout=0.05)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(timeout=PROMPT)
    assert not task.successful()
    assert pool.join(PROMPT)
    assert pool.stats()["timed_out"] == 1
    assert pool.stats()["completed"] == 0


def test_soft_timeout_raises_soft_timeout_in_a_task_waiting_on_io(
    make_pool: Pools, silent_socket: socket.socket
) -> None:
    pool = make_pool(2)

    def cleans_up() -> str:
        try:
            silent_socket.recv(1)
        except greenabc.SoftTimeout:
            return "cleaned up"
        return "not interrupted"

    task = pool.apply_async(cleans_up, soft_timeout=0.05, timeout=5)
    assert task.get(timeout=PROMPT) == "cleaned up"


def test_kill_is_bounded_even_when_the_task_swallows_it(make_pool: Pools) -> None:
    pool = make_pool(2)
    forever = threading.Event()

    def refuses_to_die() -> None:
        while True:
            with contextlib.suppress(BaseException):
                forever.wait()

    task = pool.spawn(refuses_to_die)
    eventlet.sleep(0.01)
    started = time.monotonic()
    assert task.kill(timeout=0.2) is False  # reported, but it would not stop
    assert time.monotonic() - started < 1.0
    with pytest.raises(greenabc.TaskKilled):
        task.get(timeout=0)
    obedient = pool.spawn(forever.wait)
    eventlet.sleep(0.01)
    started = time.monotonic()
    assert obedient.kill(timeout=PROMPT) is True
    assert time.monotonic() - started < 0.5


def test_resize_wakes_blocked_spawns(make_pool: Pools) -> None:
    pool = make_pool(1)
    gate = threading.Event()
    pool.spawn(gate.wait, PROMPT)
    spawned: list[greenabc.Task[object]] = []
    spawner = eventlet.spawn(lambda: spawned.append(pool.spawn(int)))
    eventlet.sleep(0.05)
    assert spawned == []  # full: blocked
    pool.resize(2)
    eventlet.sleep(0.05)
    assert len(spawned) == 1
    assert spawned[0].get(timeout=PROMPT) == 0
    gate.set()
    spawner.wait()


def test_spawn_from_inside_a_full_pool_never_runs_inline(make_pool: Pools) -> None:
    # eventlet.GreenPool runs such a spawn inline, in the spawning green thread.
    pool = make_pool(2)
    gate = threading.Event()
    order: list[str] = []

    def parent() -> None:
        pool.spawn(order.append, "child")  # the pool is full: waits for a slot
        order.append("parent's spawn returned")

    pool.spawn(gate.wait, PROMPT)
    pool.spawn(parent)
    eventlet.sleep(0.05)
    assert order == []  # blocked, not run inline
    gate.set()
    assert pool.join(PROMPT)
    assert order == ["parent's spawn returned", "child"]


def test_free_slots_never_go_negative_after_a_shrink(make_pool: Pools) -> None:
    # eventlet.GreenPool.free() goes negative here.
    pool = make_pool(3)
    gate = threading.Event()
    running = [pool.spawn(gate.wait, PROMPT) for _ in range(3)]
    eventlet.sleep(0.01)
    pool.resize(1)
    assert pool._free == 0  # type: ignore[attr-defined]
    late = eventlet.spawn(lambda: pool.spawn(int).get(PROMPT))
    eventlet.sleep(0.05)
    assert not late.dead  # still bounded by the new size
    gate.set()
    assert late.wait() == 0
    assert all(task.ready() for task in running)
    assert pool.join(PROMPT)
    assert pool._free == 1  # type: ignore[attr-defined]
    assert pool.stats()["accepted"] == 0


def test_many_tasks_share_few_workers(make_pool: Pools) -> None:
    pool = make_pool(1000)
    tasks = [pool.spawn(lambda x: x + 1, n) for n in range(5000)]
    assert [t.get(timeout=PROMPT) for t in tasks] == list(range(1, 5001))
    assert pool.stats()["workers"] <= 1000
