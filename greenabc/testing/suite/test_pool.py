"""Pool semantics every backend must have."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenabc
from greenabc import signals

from ._helpers import PROMPT, Counter, spin, wait_until


def boom() -> None:
    raise KeyError("boom")


# -- results and errors ------------------------------------------------------


def test_spawn_get_returns_the_result(pool: greenabc.Pool) -> None:
    task = pool.spawn(lambda a, b=0: a + b, 2, b=3)
    assert task.get(timeout=PROMPT) == 5
    assert task.ready()
    assert task.successful()


def test_get_reraises_the_task_exception(pool: greenabc.Pool) -> None:
    task = pool.spawn(boom)
    with pytest.raises(KeyError, match="boom"):
        task.get(timeout=PROMPT)
    assert task.ready()
    assert not task.successful()


def test_task_ids_are_unique(pool: greenabc.Pool) -> None:
    tasks = [pool.spawn(int) for _ in range(20)]
    assert len({t.id for t in tasks}) == 20


def test_get_with_timeout_raises_timeout_expired_while_running(pool: greenabc.Pool) -> None:
    task = pool.spawn(spin, 30)
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired):
        task.get(timeout=0.05)
    assert time.monotonic() - started < PROMPT
    assert not task.wait(0.01)
    task.kill(timeout=PROMPT)


def test_wait_timing_out_as_the_task_ends_answers_and_never_raises(pool: greenabc.Pool) -> None:
    """A task that ends just as ``wait(timeout)`` times out (on gevent both
    timers are due in one loop turn, the task's first): wait answers a bool,
    True only when the outcome is known. The compiled core raised TypeError
    here on gevent 200 times in 200 (a mypy-narrowed attribute read)."""
    for _ in range(200):
        task = pool.spawn(time.sleep, 0.001)
        answer = task.wait(0.0005)
        assert answer is True or answer is False
        assert not answer or task.ready()
        assert task.get(timeout=PROMPT) is None


def test_map_keeps_order_and_imap_unordered_yields_all(pool: greenabc.Pool) -> None:
    assert pool.map(lambda x: x * x, range(10)) == [x * x for x in range(10)]
    assert sorted(pool.imap_unordered(lambda x: -x, range(10))) == sorted(-x for x in range(10))


def test_map_raises_the_first_failure(pool: greenabc.Pool) -> None:
    def f(x: int) -> int:
        if x == 3:
            raise ValueError(x)
        return x

    with pytest.raises(ValueError, match="3"):
        pool.map(f, range(6))


# -- callbacks ---------------------------------------------------------------


def test_callbacks_get_the_outcome(pool: greenabc.Pool) -> None:
    got: list[tuple[str, Any]] = []
    ok = pool.apply_async(
        lambda: 7,
        callback=lambda r: got.append(("ok", r)),
        error_callback=lambda e: got.append(("err", e)),
    )
    bad = pool.apply_async(
        boom,
        callback=lambda r: got.append(("ok", r)),
        error_callback=lambda e: got.append(("err", type(e))),
    )
    ok.wait(PROMPT)
    bad.wait(PROMPT)
    assert pool.join(PROMPT)
    assert sorted(got, key=str) == sorted([("ok", 7), ("err", KeyError)], key=str)


def test_accept_callback_gets_the_task_when_it_starts(pool: greenabc.Pool) -> None:
    accepted: list[int] = []
    task = pool.apply_async(int, accept_callback=lambda t: accepted.append(t.id))
    task.get(PROMPT)
    assert accepted == [task.id]


def test_exception_in_a_callback_is_logged_and_loses_nothing(
    pool: greenabc.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    def bad_callback(result: object) -> None:
        raise RuntimeError("callback failed")

    with caplog.at_level(logging.ERROR, logger="greenabc"):
        tasks = [pool.apply_async(int, (i,), callback=bad_callback) for i in range(8)]
        assert [t.get(PROMPT) for t in tasks] == list(range(8))
        assert pool.join(PROMPT)
    assert sum("callback failed" in r.exc_text for r in caplog.records if r.exc_text) == 8
    assert pool.stats()["completed"] >= 8


def test_add_done_callback_runs_once_and_at_once_when_ready(pool: greenabc.Pool) -> None:
    seen: list[int] = []
    task = pool.spawn(int, 1)
    task.add_done_callback(lambda t: seen.append(t.id))
    task.get(PROMPT)
    assert wait_until(lambda: len(seen) == 1)
    task.add_done_callback(lambda t: seen.append(t.id))
    assert seen == [task.id, task.id]


# -- concurrency bound and the one-outcome invariant ---------------------------


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(1, 6), count=st.integers(0, 30))
def test_never_more_than_size_tasks_at_once(
    greenabc_backend: greenabc.Backend, size: int, count: int
) -> None:
    counter = Counter()

    def work() -> None:
        counter.enter()
        time.sleep(0.001)
        counter.leave()

    with greenabc_backend.create_pool(size) as pool:
        for _ in range(count):
            pool.spawn(work)
    assert counter.calls == count
    assert counter.most <= size


KINDS = st.sampled_from(["ok", "fail", "hard", "swallow", "kill"])


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kinds=st.lists(KINDS, max_size=12), size=st.integers(1, 4))
def test_every_task_ends_once_with_exactly_one_callback(
    greenabc_backend: greenabc.Backend, kinds: list[str], size: int
) -> None:
    lock = threading.Lock()
    calls: dict[int, list[str]] = {}

    def note(index: int, what: str, _outcome: object) -> None:
        with lock:
            calls.setdefault(index, []).append(what)

    def swallow() -> None:
        try:
            spin(0.3)
        except BaseException:
            pass
        spin(0.05)

    bodies = {"ok": lambda: 1, "fail": boom, "hard": spin, "swallow": swallow, "kill": spin}
    pool = greenabc_backend.create_pool(size)
    tasks = []
    for index, kind in enumerate(kinds):
        task = pool.apply_async(
            bodies[kind],
            callback=functools.partial(note, index, "ok"),
            error_callback=functools.partial(note, index, "error"),
            timeout_callback=functools.partial(note, index, "timeout"),
            timeout=0.05 if kind in ("hard", "swallow") else None,
        )
        tasks.append(task)
        if kind == "kill":
            task.kill(block=False)
    assert pool.join(10)
    pool.close(1)
    expected = {
        "ok": "ok",
        "fail": "error",
        "hard": "timeout",
        "swallow": "timeout",
        "kill": "error",
    }
    assert calls == {i: [expected[k]] for i, k in enumerate(kinds)}
    stats = pool.stats()
    assert stats["completed"] == kinds.count("ok")
    assert stats["failed"] == kinds.count("fail")
    assert stats["timed_out"] == kinds.count("hard") + kinds.count("swallow")
    assert stats["killed"] == kinds.count("kill")


# -- hard and soft timeouts ----------------------------------------------------


def test_hard_timeout_cannot_be_swallowed_by_except_exception(pool: greenabc.Pool) -> None:
    caught: list[BaseException] = []

    def stubborn() -> None:
        while True:
            try:
                spin()
            except Exception as exc:  # what a careless task does
                caught.append(exc)

    fired: list[BaseException] = []
    started = time.monotonic()
    task = pool.apply_async(stubborn, timeout=0.1, timeout_callback=fired.append)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(PROMPT)
    assert 0.09 <= time.monotonic() - started < PROMPT
    assert not caught
    assert wait_until(lambda: len(fired) == 1)
    assert isinstance(fired[0], greenabc.TaskTimedOut)
    assert task.kill(timeout=PROMPT)  # its worker really stopped
    assert pool.stats()["timed_out"] == 1


def test_task_swallowing_base_exception_is_still_timed_out(pool: greenabc.Pool) -> None:
    def swallower() -> str:
        try:
            spin(1)
        except BaseException:
            return "I survived"
        return "never interrupted"

    results: list[object] = []
    task = pool.apply_async(swallower, timeout=0.05, callback=results.append)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(PROMPT)
    assert pool.join(PROMPT)
    assert not task.successful()
    assert results == []
    assert pool.spawn(lambda: "the pool works on").get(PROMPT) == "the pool works on"


def test_timeout_without_timeout_callback_goes_to_error_callback(pool: greenabc.Pool) -> None:
    errors: list[BaseException] = []
    pool.apply_async(spin, timeout=0.05, error_callback=errors.append)
    assert pool.join(PROMPT)
    assert [type(e) for e in errors] == [greenabc.TaskTimedOut]


def test_soft_timeout_raises_soft_timeout_inside_the_task(pool: greenabc.Pool) -> None:
    def careful() -> str:
        try:
            spin(5)
        except greenabc.SoftTimeout:
            return "cleaned up"
        return "not warned"

    task = pool.apply_async(careful, soft_timeout=0.05, timeout=5)
    assert task.get(PROMPT) == "cleaned up"


def test_uncaught_soft_timeout_fails_the_task_then_hard_still_applies(pool: greenabc.Pool) -> None:
    task = pool.apply_async(spin, (5,), soft_timeout=0.05)
    with pytest.raises(greenabc.SoftTimeout):
        task.get(PROMPT)

    def ignores_soft() -> None:
        while True:
            try:
                spin()
            except greenabc.SoftTimeout:
                continue

    task = pool.apply_async(ignores_soft, soft_timeout=0.02, timeout=0.2)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(PROMPT)


def test_timeouts_count_from_the_start_not_the_spawn(greenabc_backend: greenabc.Backend) -> None:
    with greenabc_backend.create_pool(1) as pool:
        # From the spawn the second's deadline passes before it starts; from
        # its start it has 0.4 s to spare.
        first = pool.spawn(spin, 0.6)
        second = pool.apply_async(spin, (0.1,), timeout=0.5)
        assert second.get(PROMPT) is None
        first.get(PROMPT)


# -- kill ----------------------------------------------------------------------


def test_kill_running_task_is_bounded_and_never_a_success(pool: greenabc.Pool) -> None:
    errors: list[BaseException] = []
    results: list[object] = []
    task = pool.apply_async(spin, callback=results.append, error_callback=errors.append)
    assert wait_until(lambda: pool.stats()["running"] == 1)
    started = time.monotonic()
    assert task.kill(timeout=PROMPT) is True
    assert time.monotonic() - started < PROMPT
    with pytest.raises(greenabc.TaskKilled):
        task.get(0)
    assert not task.successful()
    assert results == []
    assert [type(e) for e in errors] == [greenabc.TaskKilled]
    assert pool.stats()["killed"] == 1


def test_kill_without_block_reports_at_once(pool: greenabc.Pool) -> None:
    task = pool.spawn(spin)
    assert wait_until(lambda: pool.stats()["running"] == 1)
    task.kill(block=False)
    assert task.ready()
    assert pool.join(PROMPT)


def test_kill_after_success_changes_nothing(pool: greenabc.Pool) -> None:
    task = pool.spawn(int, 3)
    assert task.get(PROMPT) == 3
    assert task.kill() is True
    assert task.get(0) == 3
    assert pool.stats()["killed"] == 0


def test_pool_kill_stops_everything_and_stays_open(pool: greenabc.Pool) -> None:
    tasks = [pool.spawn(spin) for _ in range(4)]
    assert pool.kill(timeout=PROMPT)
    assert all(t.ready() and not t.successful() for t in tasks)
    assert pool.spawn(int, 5).get(PROMPT) == 5


# -- resize, join, close ---------------------------------------------------------


def test_resize_grow_wakes_a_blocked_spawn_at_once(greenabc_backend: greenabc.Backend) -> None:
    pool = greenabc_backend.create_pool(1)
    pool.spawn(spin, 5)
    spawned = threading.Event()

    def spawner() -> None:
        pool.spawn(int)
        spawned.set()

    threading.Thread(target=spawner, daemon=True).start()
    assert wait_until(lambda: pool.stats()["waiting"] == 1)
    assert not spawned.is_set()
    pool.resize(2)
    assert spawned.wait(PROMPT)
    assert pool.size == 2
    pool.close(0)


def test_shrink_while_full_bounds_later_spawns_by_the_new_size(
    greenabc_backend: greenabc.Backend,
) -> None:
    pool = greenabc_backend.create_pool(3)
    gates = [threading.Event(), threading.Event()]
    spawned: list[greenabc.Task[Any]] = []

    def spawner(fn: Any, *args: Any) -> None:
        with contextlib.suppress(greenabc.PoolClosed):  # the test failed and closed it
            spawned.append(pool.spawn(fn, *args))

    try:
        running = [pool.spawn(gates[0].wait, PROMPT * 2) for _ in range(3)]
        assert wait_until(lambda: pool.stats()["running"] == 3)
        pool.resize(1)
        threading.Thread(target=spawner, args=(int,), daemon=True).start()
        assert wait_until(lambda: pool.stats()["waiting"] == 1)
        gates[0].set()
        assert wait_until(lambda: len(spawned) == 1)
        assert spawned[0].get(PROMPT) == 0
        assert all(task.get(PROMPT) for task in running)
        assert pool.join(PROMPT)
        assert pool.stats()["accepted"] == 0
        # One slot, no more, no fewer: the shrink was not counted twice.
        spawned.clear()
        first = pool.spawn(gates[1].wait, PROMPT * 2)
        threading.Thread(target=spawner, args=(int,), daemon=True).start()
        assert wait_until(lambda: pool.stats()["waiting"] == 1)
        assert pool.stats()["accepted"] == 1
        gates[1].set()
        assert first.get(PROMPT) is True
        assert wait_until(lambda: len(spawned) == 1)
        assert spawned[0].get(PROMPT) == 0
    finally:
        for gate in gates:
            gate.set()
        pool.close(timeout=PROMPT)


def test_spawn_from_inside_a_full_pool_waits_for_a_slot(
    greenabc_backend: greenabc.Backend,
) -> None:
    # eventlet.GreenPool runs such a spawn inline, in the spawning green thread.
    pool = greenabc_backend.create_pool(2)
    gate = threading.Event()
    order: list[str] = []

    def parent() -> None:
        pool.spawn(order.append, "child")  # the pool is full: waits for a slot
        order.append("parent's spawn returned")

    try:
        pool.spawn(gate.wait, PROMPT * 2)
        pool.spawn(parent)
        assert wait_until(lambda: pool.stats()["waiting"] == 1)
        assert order == []  # blocked, not run inline
        gate.set()
        assert pool.join(PROMPT)
        assert sorted(order) == ["child", "parent's spawn returned"]
    finally:
        gate.set()
        pool.close(timeout=PROMPT)


def test_many_tasks_share_few_workers(greenabc_backend: greenabc.Backend) -> None:
    size = 50
    with greenabc_backend.create_pool(size) as pool:
        tasks = [pool.spawn(abs, -n) for n in range(2000)]
        assert [t.get(timeout=PROMPT) for t in tasks] == list(range(2000))
        assert pool.stats()["workers"] <= size


def test_resize_shrink_lowers_the_bound(greenabc_backend: greenabc.Backend) -> None:
    counter = Counter()

    def work() -> None:
        counter.enter()
        time.sleep(0.01)
        counter.leave()

    with greenabc_backend.create_pool(4) as pool:
        pool.resize(2)
        for _ in range(12):
            pool.spawn(work)
    assert counter.most <= 2
    assert counter.calls == 12


def test_join_is_bounded(pool: greenabc.Pool) -> None:
    gate = threading.Event()
    pool.spawn(gate.wait, PROMPT * 2)
    started = time.monotonic()
    assert pool.join(0.05) is False
    assert time.monotonic() - started < PROMPT
    gate.set()
    assert pool.join(PROMPT) is True


def test_close_waits_then_kills_after_its_deadline(pool: greenabc.Pool) -> None:
    quick = pool.spawn(spin, 0.05)
    slow = pool.spawn(spin, 30)
    started = time.monotonic()
    assert pool.close(timeout=0.5) is False
    assert time.monotonic() - started < 0.5 + PROMPT
    assert quick.successful()
    with pytest.raises(greenabc.TaskKilled):
        slow.get(0)


def test_spawn_on_a_closed_pool_is_refused(pool: greenabc.Pool) -> None:
    assert pool.close() is True
    with pytest.raises(greenabc.PoolClosed, match="closed"):
        pool.spawn(int)


def test_close_wakes_blocked_spawns_with_pool_closed(greenabc_backend: greenabc.Backend) -> None:
    pool = greenabc_backend.create_pool(1)
    gate = threading.Event()
    pool.spawn(gate.wait, PROMPT * 2)  # holds the only slot until closed
    errors: list[BaseException] = []

    def spawner() -> None:
        try:
            pool.spawn(int)
        except greenabc.PoolClosed as exc:
            errors.append(exc)

    threads = [threading.Thread(target=spawner, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: pool.stats()["waiting"] == 3)
        pool.close(0.1)
        for t in threads:
            t.join(PROMPT)
    finally:
        gate.set()
    assert len(errors) == 3


def test_context_manager_joins_then_closes(greenabc_backend: greenabc.Backend) -> None:
    with greenabc_backend.create_pool(2) as pool:
        tasks = [pool.spawn(spin, 0.02) for _ in range(4)]
    assert all(t.successful() for t in tasks)
    with pytest.raises(greenabc.PoolClosed):
        pool.spawn(int)


def test_stats_are_json_friendly_counts(pool: greenabc.Pool) -> None:
    pool.spawn(int).get(PROMPT)
    with pytest.raises(KeyError):
        pool.spawn(boom).get(PROMPT)
    assert pool.join(PROMPT)
    stats = pool.stats()
    assert stats["size"] == 4
    assert stats["completed"] == 1
    assert stats["failed"] == 1
    assert stats["running"] == 0
    assert all(type(v) is int for v in stats.values())
    for key in ("size", "running", "waiting", "completed", "failed", "timed_out", "killed"):
        assert key in stats


# -- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_sizes_are_refused(greenabc_backend: greenabc.Backend, size: Any, error: type) -> None:
    with pytest.raises(error, match="size"):
        greenabc_backend.create_pool(size)
    pool = greenabc_backend.create_pool(1)
    with pytest.raises(error, match="size"):
        pool.resize(size)
    assert pool.size == 1
    pool.close()


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf])
def test_bad_timeouts_are_refused_and_nothing_is_lost(pool: greenabc.Pool, seconds: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        pool.apply_async(int, timeout=seconds)
    with pytest.raises(ValueError, match="soft_timeout"):
        pool.apply_async(int, soft_timeout=seconds)
    with pytest.raises(ValueError, match="timeout"):
        pool.join(seconds)
    assert pool.stats()["completed"] == 0
    assert pool.spawn(int, 2).get(PROMPT) == 2


def test_not_callable_is_refused(pool: greenabc.Pool) -> None:
    with pytest.raises(TypeError, match="callable"):
        pool.spawn(42)  # type: ignore[arg-type]


# -- signals -------------------------------------------------------------------


def test_lifecycle_signals_are_sent_with_the_pool(greenabc_backend: greenabc.Backend) -> None:
    seen: list[tuple[str, object]] = []

    def receiver(name: str) -> Any:
        return lambda sender, **kw: seen.append((name, sender))

    receivers = {
        name: receiver(name)
        for name in ("pool_started", "pool_apply", "pool_preshutdown", "pool_postshutdown")
    }
    for name, fn in receivers.items():
        getattr(signals, name).connect(fn)
    try:
        with greenabc_backend.create_pool(1) as pool:
            pool.spawn(int)
    finally:
        for name, fn in receivers.items():
            getattr(signals, name).disconnect(fn)
    assert seen == [
        ("pool_started", pool),
        ("pool_apply", pool),
        ("pool_preshutdown", pool),
        ("pool_postshutdown", pool),
    ]
