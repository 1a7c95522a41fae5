"""``greenabc.futures.Executor`` behaves as CPython's ``ThreadPoolExecutor``,
case for case (the cases of CPython's ``Lib/test/test_concurrent_futures``),
on every backend.

On ``threads`` each behavioural test also runs on the standard library's
``ThreadPoolExecutor`` itself (the ``stdlib`` parameter), so these tests state
what the reference does, not what we wish it did.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import functools
import gc
import itertools
import logging
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    BrokenExecutor,
    CancelledError,
    Future,
)
from concurrent.futures.thread import BrokenThreadPool
from typing import Any

import pytest

import greenabc
from greenabc.futures import BrokenPool, Executor

from ._helpers import PROMPT, Counter, wait_until

#: For "eventually" (liveness, not promptness) on a noisy 2-core machine.
LONG = 20.0

Make = Callable[..., cf.Executor]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The stdlib reference runs once, in the threads run; it means nothing green.
    if "impl" in metafunc.fixturenames:
        name = metafunc.config.getoption("--greenabc-backend") or greenabc.get_backend().name
        metafunc.parametrize("impl", ["greenabc", "stdlib"] if name == "threads" else ["greenabc"])


class Gate:
    """Tasks wait at a gate until it opens; bounded, so nothing hangs."""

    def __init__(self) -> None:
        self.is_open = False

    def open(self) -> None:
        self.is_open = True

    def wait(self, limit: float = 30.0) -> bool:
        end = time.monotonic() + limit
        while not self.is_open:
            if time.monotonic() > end:
                return False
            time.sleep(0.002)
        return True


@pytest.fixture
def gates() -> Iterator[Callable[[], Gate]]:
    made: list[Gate] = []

    def new() -> Gate:
        made.append(Gate())
        return made[-1]

    yield new
    for gate in made:
        gate.open()


@pytest.fixture
def make(
    impl: str, greenabc_backend: greenabc.Backend, gates: Callable[[], Gate]
) -> Iterator[Make]:
    """``make(max_workers=None, **kwargs)``: an executor of the implementation
    under test, shut down after the test (its gates opened first)."""
    made: list[cf.Executor] = []

    def factory(max_workers: int | None = None, **kwargs: Any) -> cf.Executor:
        executor: cf.Executor
        if impl == "stdlib":
            executor = cf.ThreadPoolExecutor(max_workers, **kwargs)
        else:
            executor = Executor(max_workers, backend=greenabc_backend.name, **kwargs)
        made.append(executor)
        return executor

    yield factory
    for executor in made:  # never waits: the test's gates open after this
        executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def executor(make: Make) -> cf.Executor:
    return make(5)


@pytest.fixture
def gate(gates: Callable[[], Gate]) -> Gate:
    return gates()


def mul(x: int, y: int) -> int:
    return x * y


def capture(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def raiser(exc: BaseException) -> None:
    raise exc


def gone(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


def finished(result: Any = None, exc: BaseException | None = None) -> Future[Any]:
    f: Future[Any] = Future()
    if exc is not None:
        f.set_exception(exc)
    else:
        f.set_result(result)
    return f


def cancelled_and_notified() -> Future[Any]:
    f: Future[Any] = Future()
    f.cancel()
    f.set_running_or_notify_cancel()
    return f


def cancelled() -> Future[Any]:
    f: Future[Any] = Future()
    f.cancel()
    return f


def running_on(executor: cf.Executor, gate: Gate) -> Future[bool]:
    """A future that is running (waiting at *gate*) when this returns."""
    started = threading.Event()

    def task() -> bool:
        started.set()
        return gate.wait()

    future = executor.submit(task)
    assert wait_until(started.is_set, LONG), "the task did not start"
    return future


# -- the executor itself -------------------------------------------------------


def test_is_a_concurrent_futures_executor(greenabc_backend: greenabc.Backend) -> None:
    with Executor(2, backend=greenabc_backend.name) as executor:
        assert isinstance(executor, cf.Executor)
        assert executor.backend.name == greenabc_backend.name
        assert executor.max_workers == 2
        future = executor.submit(pow, 2, 8)
        assert type(future) is Future
        assert future.result(timeout=LONG) == 256


def test_max_workers_must_be_positive(greenabc_backend: greenabc.Backend) -> None:
    for n in (0, -1):
        with pytest.raises(ValueError, match="max_workers must be greater than 0"):
            Executor(n, backend=greenabc_backend.name)
    with pytest.raises(TypeError, match="initializer must be a callable"):
        Executor(1, backend=greenabc_backend.name, initializer=42)  # type: ignore[arg-type]


def test_max_workers_negative_on_the_reference_too(make: Make) -> None:
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        make(0)


def test_default_max_workers_is_the_backends_pool_default(
    greenabc_backend: greenabc.Backend,
) -> None:
    pool = greenabc_backend.create_pool()
    try:
        expected = pool.size
    finally:
        pool.close(timeout=PROMPT)
    executor = Executor(backend=greenabc_backend.name)
    try:
        assert executor.max_workers == expected
        if greenabc_backend.name == "threads":  # as ThreadPoolExecutor's
            import os

            assert expected == min(32, (os.cpu_count() or 1) + 4)
        assert executor.submit(mul, 6, 7).result(timeout=LONG) == 42
    finally:
        executor.shutdown()


def test_default_backend_is_greenabcs_default() -> None:
    with Executor(1) as executor:
        assert executor.backend.name == greenabc.get_backend().name
        assert executor.submit(mul, 2, 3).result(timeout=LONG) == 6


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(greenabc.UnknownBackendError):
        Executor(1, backend="no-such-backend")


# -- submit --------------------------------------------------------------------


def test_submit(executor: cf.Executor) -> None:
    future = executor.submit(pow, 2, 8)
    assert future.result(timeout=LONG) == 256


def test_submit_keyword(executor: cf.Executor) -> None:
    assert executor.submit(mul, 2, y=8).result(timeout=LONG) == 16
    future = executor.submit(capture, 1, self=2, fn=3)
    assert future.result(timeout=LONG) == ((1,), {"self": 2, "fn": 3})
    with pytest.raises(TypeError):
        executor.submit(fn=capture, arg=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        executor.submit(arg=1)  # type: ignore[call-arg]


def test_submit_exception_is_set_on_the_future(executor: cf.Executor) -> None:
    future = executor.submit(divmod, 1, 0)
    assert isinstance(future.exception(timeout=LONG), ZeroDivisionError)
    with pytest.raises(ZeroDivisionError):
        future.result()


class FalseyBool(Exception):
    def __bool__(self) -> bool:
        return False


class FalseyLen(Exception):
    def __len__(self) -> int:
        return 0


def test_falsey_exceptions_are_not_swallowed(executor: cf.Executor) -> None:
    # Future.result() itself ignores a falsey exception before Python 3.14
    # (gh-132063); the executor must still record it on the future.
    for exc_type in (FalseyBool, FalseyLen):
        exc = executor.submit(raiser, exc_type("boolbool")).exception(timeout=LONG)
        assert type(exc) is exc_type
        assert str(exc) == "boolbool"


class Stop(BaseException):
    pass


def test_base_exception_fails_the_future_and_the_worker_lives_on(make: Make) -> None:
    executor = make(1)
    with pytest.raises(Stop):
        executor.submit(raiser, Stop("stop")).result(timeout=LONG)
    assert executor.submit(mul, 3, 4).result(timeout=LONG) == 12


def test_not_callable_fails_the_future_not_submit(executor: cf.Executor) -> None:
    future: Future[Any] = executor.submit(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        future.result(timeout=LONG)


def test_submit_never_blocks_when_every_worker_is_busy(make: Make, gate: Gate) -> None:
    executor = make(1)
    first = running_on(executor, gate)
    started = time.monotonic()
    futures = [executor.submit(mul, i, 2) for i in range(500)]
    assert time.monotonic() - started < PROMPT
    assert not first.done()
    assert not any(f.done() or f.running() for f in futures)
    gate.open()
    assert [f.result(timeout=LONG) for f in futures] == [i * 2 for i in range(500)]
    assert first.result(timeout=LONG) is True


def test_submit_from_inside_a_task_does_not_block(make: Make) -> None:
    executor = make(1)

    def outer() -> Future[int]:
        return executor.submit(mul, 6, 7)  # the only worker is this one: queued

    inner = executor.submit(outer).result(timeout=LONG)
    assert inner.result(timeout=LONG) == 42


# -- max_workers ----------------------------------------------------------------


def test_never_more_than_max_workers_run_at_once(make: Make, gate: Gate) -> None:
    executor = make(3)
    counter = Counter()

    def task() -> None:
        counter.enter()
        try:
            gate.wait()
        finally:
            counter.leave()

    futures = [executor.submit(task) for _ in range(15)]
    assert wait_until(lambda: counter.now == 3, LONG)
    time.sleep(0.2)  # room for a fourth to start, if the bound were wrong
    assert counter.now == 3
    assert sum(f.running() for f in futures) == 3
    gate.open()
    assert not cf.wait(futures, timeout=LONG).not_done
    assert counter.most == 3
    assert counter.calls == 15


def test_saturation_starts_exactly_max_workers_workers(make: Make, gate: Gate) -> None:
    executor = make(4)
    idents: set[int] = set()

    def task() -> None:
        idents.add(threading.get_ident())
        gate.wait()

    futures = [executor.submit(task) for _ in range(15 * 4)]
    assert wait_until(lambda: len(idents) == 4, LONG)
    time.sleep(0.1)
    assert len(idents) == 4
    gate.open()
    assert not cf.wait(futures, timeout=LONG).not_done
    assert len(idents) == 4


def test_idle_worker_is_reused(make: Make) -> None:
    started: list[int] = []  # the initializer runs once per worker started
    executor = make(4, initializer=lambda: started.append(threading.get_ident()))
    idents = {executor.submit(threading.get_ident).result(timeout=LONG) for _ in range(3)}
    assert len(idents) == 1
    assert started == list(idents)


# -- map ------------------------------------------------------------------------


def test_map(executor: cf.Executor) -> None:
    assert list(executor.map(pow, range(10), range(10))) == list(map(pow, range(10), range(10)))
    assert list(executor.map(pow, range(10), range(10), chunksize=3)) == list(
        map(pow, range(10), range(10))
    )


def test_map_keeps_order_when_later_items_finish_first(executor: cf.Executor) -> None:
    def slow_first(i: int) -> int:
        time.sleep(0.05 * (4 - i))
        return i

    assert list(executor.map(slow_first, range(5), timeout=LONG)) == [0, 1, 2, 3, 4]


def test_map_exception(executor: cf.Executor) -> None:
    results = executor.map(divmod, [1, 1, 1, 1], [2, 3, 0, 5])
    assert next(results) == (0, 1)
    assert next(results) == (0, 1)
    with pytest.raises(ZeroDivisionError):
        next(results)


def test_map_timeout(executor: cf.Executor, gate: Gate) -> None:
    results: list[Any] = []
    started = time.monotonic()
    with pytest.raises(cf.TimeoutError):
        for value in executor.map(lambda g: g.wait() if g else None, [None, None, gate], timeout=2):
            results.append(value)
    assert results == [None, None]
    assert 1.5 < time.monotonic() - started < 2 + LONG


def test_map_submits_without_iteration(make: Make) -> None:
    executor = make(3)
    seen: list[int] = []
    executor.map(seen.append, range(10))
    executor.shutdown(wait=True)
    assert sorted(seen) == list(range(10))


class Dummy:
    pass


def test_map_free_reference(executor: cf.Executor) -> None:
    for obj in executor.map(lambda _: Dummy(), range(10)):
        ref = weakref.ref(obj)
        del obj
        assert wait_until(functools.partial(gone, ref), LONG)


# -- no stale references ----------------------------------------------------------


class Holder:
    def method(self) -> None:
        pass


def test_no_stale_references(executor: cf.Executor) -> None:
    obj = Holder()
    collected = threading.Event()
    ref = weakref.ref(obj, lambda _: collected.set())
    future = executor.submit(obj.method)
    del obj
    future.result(timeout=LONG)
    assert wait_until(lambda: gone(ref), LONG)
    assert collected.is_set()


def test_no_stale_reference_to_an_argument_after_shutdown(make: Make) -> None:
    executor = make(2)
    obj = Holder()
    ref = weakref.ref(obj)
    futures = [executor.submit(lambda h: h.method(), obj) for _ in range(4)]
    futures.append(executor.submit(raiser, ValueError("no cycle keeps it")))
    del obj
    cf.wait(futures, timeout=LONG)
    executor.shutdown(wait=True)
    del futures
    assert wait_until(functools.partial(gone, ref), LONG)


# -- cancel -----------------------------------------------------------------------


def test_cancel_a_pending_future_but_not_a_running_one(make: Make, gate: Gate) -> None:
    executor = make(1)
    ran: list[int] = []
    first = running_on(executor, gate)
    pending = executor.submit(ran.append, 1)
    after = executor.submit(ran.append, 2)
    assert pending.cancel()
    assert pending.cancelled()
    assert not first.cancel()  # running: not interrupted
    assert first.running()
    gate.open()
    assert first.result(timeout=LONG) is True
    assert after.result(timeout=LONG) is None
    assert ran == [2]
    with pytest.raises(CancelledError):
        pending.result()


# -- shutdown ---------------------------------------------------------------------


def test_run_after_shutdown(make: Make) -> None:
    executor = make(2)
    executor.shutdown()
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        executor.submit(pow, 2, 5)
    executor.shutdown()  # twice is fine


def test_hang_issue12364(executor: cf.Executor) -> None:
    futures = [executor.submit(time.sleep, 0.01) for _ in range(50)]
    executor.shutdown()
    assert all(f.done() for f in futures)
    for f in futures:
        f.result()


def test_shutdown_race_issue12456(make: Make) -> None:
    executor = make(3)
    results = executor.map(str, [2] * (3 + 1))
    executor.shutdown()
    assert list(results) == ["2"] * 4


def test_context_manager_shutdown_waits(make: Make) -> None:
    with make(5) as executor:
        assert list(executor.map(abs, range(-5, 5))) == [abs(i) for i in range(-5, 5)]
        futures = [executor.submit(time.sleep, 0.05) for _ in range(10)]
    assert all(f.done() for f in futures)
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)


def test_shutdown_no_wait(make: Make, gate: Gate) -> None:
    executor = make(5)
    first = running_on(executor, gate)
    results = executor.map(abs, range(-5, 5))
    started = time.monotonic()
    executor.shutdown(wait=False)
    assert time.monotonic() - started < PROMPT
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)
    gate.open()
    assert list(results) == [abs(i) for i in range(-5, 5)]
    assert first.result(timeout=LONG) is True


def test_cancel_futures(make: Make, gate: Gate) -> None:
    executor = make(2)
    running = [running_on(executor, gate) for _ in range(2)]
    queued = [executor.submit(time.sleep, 0.01) for _ in range(20)]
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    assert not any(f.cancelled() for f in running)
    gate.open()
    executor.shutdown(wait=True)
    assert all(f.done() and f.exception() is None for f in running)


def test_cancel_futures_with_wait(make: Make) -> None:
    executor = make(5)
    futures = [executor.submit(time.sleep, 0.1) for _ in range(50)]
    executor.shutdown(cancel_futures=True)
    cancelled_ = [f for f in futures if f.cancelled()]
    assert len(cancelled_) >= 20  # 5 at a time for 0.1 s each
    others = [f for f in futures if not f.cancelled()]
    assert all(f.done() and f.exception() is None for f in others)


def test_shutdown_race_with_submit_from_another_thread(make: Make) -> None:
    executor = make(3)
    submitted: list[Future[Any]] = []
    refused: list[BaseException] = []

    def submitter() -> None:
        while True:
            try:
                submitted.append(executor.submit(time.sleep, 0.001))
            except RuntimeError as exc:
                refused.append(exc)
                return
            time.sleep(0.0005)  # let the shutdown run (green under a patched process)

    thread = threading.Thread(target=submitter, daemon=True)
    thread.start()
    assert wait_until(lambda: len(submitted) > 20, LONG)
    executor.shutdown(wait=True)
    # Every future accepted before the shutdown ran: none is left pending.
    assert all(f.done() for f in list(submitted))
    assert wait_until(lambda: not thread.is_alive(), LONG)
    assert len(refused) == 1
    assert "after shutdown" in str(refused[0])
    assert all(f.exception() is None for f in submitted)


def test_shutdown_from_inside_a_task_without_wait(make: Make) -> None:
    executor = make(2)

    def stop() -> str:
        executor.shutdown(wait=False)
        return "stopped"

    before = [executor.submit(time.sleep, 0.01) for _ in range(3)]
    future = executor.submit(stop)
    assert future.result(timeout=LONG) == "stopped"
    assert not cf.wait(before, timeout=LONG).not_done
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)
    executor.shutdown(wait=True)  # and the workers do stop


def test_shutdown_with_wait_from_inside_a_task_raises(make: Make) -> None:
    executor = make(2)
    future = executor.submit(lambda: executor.shutdown(wait=True))
    exc = future.exception(timeout=LONG)
    assert isinstance(exc, RuntimeError)
    assert "cannot join current thread" in str(exc)
    with pytest.raises(RuntimeError):
        executor.submit(abs, 1)
    executor.shutdown(wait=True)


def test_dropped_executor_is_collected_and_its_work_finishes(
    impl: str, greenabc_backend: greenabc.Backend
) -> None:
    executor: cf.Executor
    if impl == "stdlib":
        executor = cf.ThreadPoolExecutor(3)
    else:
        executor = Executor(3, backend=greenabc_backend.name)
    futures = [executor.submit(time.sleep, 0.02) for _ in range(6)]
    ref = weakref.ref(executor)
    del executor
    assert wait_until(functools.partial(gone, ref), LONG)
    assert not cf.wait(futures, timeout=LONG).not_done


# -- wait -------------------------------------------------------------------------


def test_wait_duplicates_issue20369(executor: cf.Executor) -> None:
    future = executor.submit(time.sleep, 0.1)
    done, not_done = cf.wait([future, future], timeout=LONG, return_when=ALL_COMPLETED)
    assert done == {future}
    assert not not_done


def test_wait_first_completed(executor: cf.Executor, gate: Gate) -> None:
    c = cancelled()
    future1 = executor.submit(mul, 21, 2)
    future2 = running_on(executor, gate)
    done, not_done = cf.wait([c, future1, future2], timeout=LONG, return_when=FIRST_COMPLETED)
    assert done == {future1}
    assert not_done == {c, future2}


def test_wait_first_completed_some_already_completed(executor: cf.Executor, gate: Gate) -> None:
    cn, ok = cancelled_and_notified(), finished(42)
    future1 = running_on(executor, gate)
    done, not_done = cf.wait([cn, ok, future1], timeout=LONG, return_when=FIRST_COMPLETED)
    assert done == {cn, ok}
    assert not_done == {future1}


def test_wait_first_exception(executor: cf.Executor, gate: Gate) -> None:
    def wait_then_raise() -> None:
        time.sleep(0.1)
        raise ValueError("first exception")

    future1: Future[Any] = executor.submit(mul, 2, 21)
    future2: Future[Any] = executor.submit(wait_then_raise)
    future3: Future[Any] = running_on(executor, gate)
    done, not_done = cf.wait([future1, future2, future3], timeout=LONG, return_when=FIRST_EXCEPTION)
    assert done == {future1, future2}
    assert not_done == {future3}


def test_wait_first_exception_some_already_complete(executor: cf.Executor, gate: Gate) -> None:
    ok, c, cn = finished(42), cancelled(), cancelled_and_notified()
    future1 = executor.submit(divmod, 21, 0)
    future2 = running_on(executor, gate)
    done, not_done = cf.wait(
        [ok, c, cn, future1, future2], timeout=LONG, return_when=FIRST_EXCEPTION
    )
    assert done == {ok, cn, future1}
    assert not_done == {c, future2}


def test_wait_first_exception_one_already_failed(executor: cf.Executor, gate: Gate) -> None:
    failed = finished(exc=OSError("already failed"))
    future1 = running_on(executor, gate)
    done, not_done = cf.wait([failed, future1], timeout=LONG, return_when=FIRST_EXCEPTION)
    assert done == {failed}
    assert not_done == {future1}


def test_wait_all_completed(executor: cf.Executor) -> None:
    ok, cn, failed = finished(42), cancelled_and_notified(), finished(exc=OSError())
    future1 = executor.submit(divmod, 2, 0)
    future2 = executor.submit(mul, 2, 21)
    fs = [ok, cn, failed, future1, future2]
    done, not_done = cf.wait(fs, timeout=LONG, return_when=ALL_COMPLETED)
    assert done == set(fs)
    assert not_done == set()


def test_wait_timeout(executor: cf.Executor, gate: Gate) -> None:
    cn, failed, ok = cancelled_and_notified(), finished(exc=OSError()), finished(42)
    future1 = executor.submit(mul, 6, 7)
    future2 = running_on(executor, gate)
    started = time.monotonic()
    done, not_done = cf.wait(
        [cn, failed, ok, future1, future2], timeout=0.5, return_when=ALL_COMPLETED
    )
    assert 0.4 < time.monotonic() - started < 0.5 + LONG
    assert done == {cn, failed, ok, future1}
    assert not_done == {future2}


def test_wait_pending_calls_race(executor: cf.Executor, gate: Gate) -> None:
    futures = {executor.submit(gate.wait) for _ in range(100)}
    gate.open()
    done, not_done = cf.wait(futures, timeout=LONG, return_when=ALL_COMPLETED)
    assert not not_done
    assert all(f.result() is True for f in done)


# -- as_completed -------------------------------------------------------------------


def test_as_completed_no_timeout(executor: cf.Executor) -> None:
    cn, failed, ok = cancelled_and_notified(), finished(exc=OSError()), finished(42)
    future1 = executor.submit(mul, 2, 21)
    future2 = executor.submit(mul, 7, 6)
    fs = [cn, failed, ok, future1, future2]
    assert set(cf.as_completed(fs, timeout=LONG)) == set(fs)


def test_as_completed_yields_in_completion_order(executor: cf.Executor, gate: Gate) -> None:
    slow: Future[Any] = running_on(executor, gate)
    fast: Future[Any] = executor.submit(mul, 1, 1)
    order = []
    for future in cf.as_completed([slow, fast], timeout=LONG):
        order.append(future)
        gate.open()
    assert order == [fast, slow]


def test_as_completed_zero_timeout(executor: cf.Executor, gate: Gate) -> None:
    cn, failed, ok = cancelled_and_notified(), finished(exc=OSError()), finished(42)
    future1 = running_on(executor, gate)
    seen = set()
    with pytest.raises(cf.TimeoutError):
        for future in cf.as_completed([cn, failed, ok, future1], timeout=0):
            seen.add(future)
    assert seen == {cn, failed, ok}


def test_as_completed_duplicate_futures(executor: cf.Executor) -> None:
    future1 = executor.submit(time.sleep, 0.1)
    completed = list(cf.as_completed(itertools.repeat(future1, 3), timeout=LONG))
    assert completed == [future1]


def test_as_completed_timeout_message(make: Make, gate: Gate) -> None:
    executor = make(1)
    running = running_on(executor, gate)
    pending = executor.submit(abs, 1)
    fs = [cancelled_and_notified(), pending, running, finished(42)]
    with pytest.raises(cf.TimeoutError, match=r"^2 \(of 4\) futures unfinished$"):
        list(cf.as_completed(fs, timeout=0))


# -- initializer --------------------------------------------------------------------


def test_initializer_runs_once_per_worker_before_its_first_task(make: Make, gate: Gate) -> None:
    status = threading.local()
    calls: list[int] = []

    def init(value: str) -> None:
        calls.append(threading.get_ident())
        status.value = value

    executor = make(2, initializer=init, initargs=("initialized",))

    def get_status() -> tuple[int, str]:
        gate.wait(0.05)  # keep both workers busy for a moment
        return threading.get_ident(), getattr(status, "value", "uninitialized")

    results = [f.result(timeout=LONG) for f in [executor.submit(get_status) for _ in range(10)]]
    assert all(value == "initialized" for _, value in results)
    assert len(calls) == len(set(calls)) <= 2  # once per worker, at most max_workers
    assert {ident for ident, _ in results} <= set(calls)


def test_failing_initializer_breaks_the_executor(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    def init_fail() -> None:
        raise ValueError("error in initializer")

    executor = make(2, initializer=init_fail)
    with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
        try:
            future = executor.submit(abs, 1)
        except BrokenExecutor:
            pass  # already broken
        else:
            with pytest.raises(BrokenExecutor):
                future.result(timeout=LONG)

        def broken() -> bool:
            try:
                executor.submit(abs, 1).cancel()
            except BrokenExecutor:
                return True
            return False

        assert wait_until(broken, LONG)
        with pytest.raises(BrokenThreadPool):  # what ThreadPoolExecutor raises
            executor.submit(abs, 1)
    assert "Exception in initializer:" in caplog.text
    assert "ValueError: error in initializer" in caplog.text


def test_failing_initializer_fails_pending_futures_with_broken_pool(
    greenabc_backend: greenabc.Backend, caplog: pytest.LogCaptureFixture
) -> None:
    def init_fail() -> None:
        time.sleep(0.1)  # let work queue up first
        raise ValueError("error in initializer")

    with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
        executor = Executor(1, backend=greenabc_backend.name, initializer=init_fail)
        futures = [executor.submit(abs, i) for i in range(5)]
        for future in futures:
            exc = future.exception(timeout=LONG)
            assert isinstance(exc, BrokenPool)
            assert isinstance(exc, BrokenThreadPool)
            assert isinstance(exc, BrokenExecutor)
        with pytest.raises(BrokenPool, match="initializer failed"):
            executor.submit(abs, 1)
        executor.shutdown(wait=True)
    assert "error in initializer" in caplog.text


# -- asyncio and interpreter exit -----------------------------------------------------


def test_asyncio_run_in_executor(make: Make, greenabc_backend: greenabc.Backend) -> None:
    if greenabc_backend.capabilities.is_green:
        pytest.skip("asyncio's loop is not the point on a green engine")
    executor = make(2)

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(*(loop.run_in_executor(executor, mul, i, 2) for i in range(10)))
        )

    assert asyncio.run(main()) == [i * 2 for i in range(10)]


def test_queued_work_still_runs_at_interpreter_exit(greenabc_backend: greenabc.Backend) -> None:
    script = textwrap.dedent(
        f"""
        import greenabc
        greenabc.patch({greenabc_backend.name!r})
        import time
        from greenabc.futures import Executor

        def sleep_and_print(seconds, text):
            time.sleep(seconds)
            print(text, flush=True)

        executor = Executor(1, backend={greenabc_backend.name!r})
        executor.submit(sleep_and_print, 0.2, "apple")
        executor.submit(sleep_and_print, 0.0, "banana")
        """
    )
    run = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        timeout=LONG + 10,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["apple", "banana"]
