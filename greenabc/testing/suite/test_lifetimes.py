"""A finished task is freed at once, by reference counting alone.

Whatever its outcome and however far its deadline: memory is O(tasks not yet
finished), and the cyclic collector (whose pauses make deadlines late) has
nothing to do for a finished task.
"""

from __future__ import annotations

import gc
import random
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenabc

from ._helpers import PROMPT, spin, wait_until


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _payload() -> bytearray:
    return bytearray(10_000)


def test_finished_tasks_with_far_distinct_deadlines_are_freed_at_join(
    greenabc_backend: greenabc.Backend, no_gc: None
) -> None:
    # A timeout computed from a remaining budget is distinct for every task.
    with greenabc_backend.create_pool(100) as pool:
        refs = [
            weakref.ref(pool.apply_async(_payload, timeout=random.uniform(3600, 7200)))
            for _ in range(2000)
        ]
        assert pool.join(PROMPT * 5)
        alive = sum(ref() is not None for ref in refs)
    assert alive == 0, f"{alive} of 2000 finished tasks are still referenced"


def _fail() -> None:
    raise ValueError("failed")


def _swallow_then_end() -> str:
    try:
        spin(5)
    except BaseException:
        pass
    return "late"


OUTCOMES: dict[str, tuple[Callable[[], object], dict[str, Any]]] = {
    "success": (_payload, {}),
    "failure": (_fail, {}),
    "timed out": (spin, {"timeout": 0.02}),
    "timed out, interrupt swallowed": (_swallow_then_end, {"timeout": 0.02}),
    "soft timeout": (spin, {"soft_timeout": 0.01, "timeout": 5}),
    "killed": (spin, {}),
}


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_a_finished_task_leaves_no_cycle(
    greenabc_backend: greenabc.Backend, no_gc: None, outcome: str
) -> None:
    fn, options = OUTCOMES[outcome]
    count = 200
    errors: list[BaseException] = []
    pool = greenabc_backend.create_pool(count)
    tasks = [pool.apply_async(fn, error_callback=errors.append, **options) for _ in range(count)]
    if outcome == "killed":
        assert wait_until(lambda: pool.stats()["running"] == count)
        pool.kill(PROMPT)
    assert pool.join(PROMPT * 3)
    for task in tasks:  # the caller reads every outcome, as code collecting results does
        if task.successful():
            task.get()
        else:
            with pytest.raises(BaseException):  # any outcome's exception
                task.get()
    refs = [weakref.ref(task) for task in tasks]
    del tasks, task
    errors.clear()
    pool.close(PROMPT)
    alive = sum(ref() is not None for ref in refs)
    found = gc.collect()
    assert alive == 0, f"{alive} of {count} tasks ({outcome}) need the cyclic collector"
    assert found < count / 10, f"{found} objects in cycles after {count} tasks ({outcome})"
