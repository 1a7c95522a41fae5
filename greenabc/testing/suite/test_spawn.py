"""``greenabc.spawn`` / ``Backend.spawn``: run now, bounded by no pool."""

from __future__ import annotations

import threading
import time

import pytest

import greenabc

from ._helpers import PROMPT, spin, wait_until


def test_spawn_runs_now_and_returns_a_task(greenabc_backend: greenabc.Backend) -> None:
    task = greenabc_backend.spawn(lambda a, b=0: a + b, 2, b=3)
    assert task.get(timeout=PROMPT) == 5
    assert task.successful()
    assert task.outcome == "success"


def test_module_level_spawn_uses_the_default_backend(greenabc_backend: greenabc.Backend) -> None:
    if greenabc.get_backend() is not greenabc_backend:
        pytest.skip("the backend under test is not the default one in this process")
    assert greenabc.spawn(greenabc.current_task).get(timeout=PROMPT) is not None


def test_spawn_is_bounded_by_no_pool(greenabc_backend: greenabc.Backend) -> None:
    # More at once than any default pool size: none waits for another to end.
    count = 300
    gate = threading.Event()
    started = threading.Semaphore(0)

    def wait_for_gate() -> bool:
        started.release()
        return gate.wait(PROMPT * 2)

    tasks = [greenabc_backend.spawn(wait_for_gate) for _ in range(count)]
    for _ in range(count):
        assert started.acquire(timeout=PROMPT * 2)
    gate.set()
    assert all(task.get(timeout=PROMPT) for task in tasks)


def test_spawned_task_can_be_killed(greenabc_backend: greenabc.Backend) -> None:
    outcomes: list[str | None] = []
    started = threading.Event()

    def body() -> None:
        started.set()
        spin(30)

    task = greenabc_backend.spawn(body)
    task.add_done_callback(lambda t: outcomes.append(t.outcome))
    assert wait_until(started.is_set)
    assert task.kill(timeout=PROMPT)
    with pytest.raises(greenabc.TaskKilled):
        task.get(timeout=0)
    assert outcomes == ["killed"]


def test_spawn_from_inside_a_spawned_task(greenabc_backend: greenabc.Backend) -> None:
    def outer() -> int:
        inner = greenabc_backend.spawn(time.sleep, 0.01)
        inner.get(timeout=PROMPT)
        return 7

    assert greenabc_backend.spawn(outer).get(timeout=PROMPT) == 7
