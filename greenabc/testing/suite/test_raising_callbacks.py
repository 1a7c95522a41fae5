"""Whatever a callback raises, ``SystemExit`` and ``KeyboardInterrupt``
included, it is logged and nothing else is lost: the scheduler goes on, the
rest of a batch fires, every task of a kill is killed."""

from __future__ import annotations

import logging
import sys
import time

import pytest

import greenabc

from ._helpers import PROMPT, spin, wait_until

RAISES = [SystemExit, KeyboardInterrupt]


@pytest.mark.parametrize("exc_type", RAISES)
def test_the_scheduler_goes_on_after_a_callback_raised(
    greenabc_backend: greenabc.Backend,
    timer: greenabc.Timer,
    exc_type: type[BaseException],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode() -> None:
        raise exc_type

    with caplog.at_level(logging.ERROR, logger="greenabc"):
        timer.call_after(0, explode)
        fired: list[bool] = []
        timer.call_after(0.01, fired.append, True)
        assert wait_until(lambda: fired == [True])
    assert any(exc_type.__name__ in r.getMessage() or r.exc_info for r in caplog.records)

    with greenabc_backend.create_pool(2) as pool:  # every later deadline still holds
        started = time.monotonic()
        task = pool.apply_async(spin, (3,), timeout=0.05)
        assert task.wait(PROMPT)
        assert task.outcome == "timed out"
        assert time.monotonic() - started < PROMPT
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired), greenabc_backend.timeout(0.05):
        spin(2)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("exc_type", RAISES)
def test_a_raising_entry_does_not_lose_the_rest_of_its_batch(
    timer: greenabc.Timer, exc_type: type[BaseException]
) -> None:
    fired: list[int] = []

    def explode() -> None:
        raise exc_type

    when = time.monotonic() + 0.05  # one instant: one batch
    timer.call_at(when, fired.append, 0)
    timer.call_at(when, explode)
    for i in range(1, 10):
        timer.call_at(when, fired.append, i)
    assert wait_until(lambda: len(fired) == 10), fired
    assert fired == list(range(10))  # in order, none lost


def test_kill_kills_every_task_whatever_the_error_callbacks_raise(
    greenabc_backend: greenabc.Backend, caplog: pytest.LogCaptureFixture
) -> None:
    def exit_now(exc: BaseException) -> None:
        sys.exit(1)

    pool = greenabc_backend.create_pool(5)
    tasks = [pool.apply_async(spin, (30,), error_callback=exit_now) for _ in range(5)]
    assert wait_until(lambda: pool.stats()["running"] == 5)
    with caplog.at_level(logging.ERROR, logger="greenabc"):
        assert pool.kill(PROMPT)
    assert [task.outcome for task in tasks] == ["killed"] * 5
    assert sum("error_callback" in r.getMessage() for r in caplog.records) == 5
    pool.close(PROMPT)


def test_a_task_that_kills_itself_gets_its_whole_error_callback(
    greenabc_backend: greenabc.Backend,
) -> None:
    finished: list[str] = []

    def slow_callback(exc: BaseException) -> None:
        time.sleep(0.2)  # its own interrupt must not land in here
        finished.append(type(exc).__name__)

    def kill_myself() -> None:
        task = greenabc.current_task()
        assert task is not None
        task.kill(block=False)
        spin(5)

    with greenabc_backend.create_pool(2) as pool:
        task = pool.apply_async(kill_myself, error_callback=slow_callback)
        assert wait_until(lambda: finished == ["TaskKilled"], PROMPT)
        assert task.outcome == "killed"
        assert pool.join(PROMPT)
