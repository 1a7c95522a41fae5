"""greenabc.aio: coroutines called from green code and green code awaited
from coroutines, with greenabc's cancellation rules, on the backend under test."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenabc
from greenabc import aio

from ._helpers import PROMPT, busy, spin, wait_until

#: Skipped on a backend that declares can_bridge_asyncio=False.
pytestmark = pytest.mark.usefixtures("aio_bridge")

#: A context variable set on one side, read on the other.
color: contextvars.ContextVar[str] = contextvars.ContextVar("color", default="none")


@pytest.fixture
def big_pool(greenabc_backend: greenabc.Backend) -> Iterator[greenabc.Pool]:
    pool = greenabc_backend.create_pool(250)
    yield pool
    pool.kill(timeout=PROMPT)


async def double(x: int) -> int:
    await asyncio.sleep(0.001)
    return 2 * x


async def raises(exc: BaseException) -> None:
    await asyncio.sleep(0)
    raise exc


class Watched:
    """A coroutine that records whether it was cancelled. Plain flags: a
    patched threading.Event is the engine's, not to be set from the loop's
    thread."""

    def __init__(self) -> None:
        self.started = False
        self.cancelled = False

    async def forever(self) -> None:
        self.started = True
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class Ticker:
    """A task that notes the time every *every* seconds until :meth:`stop`:
    proof that the engine's other tasks ran."""

    def __init__(self, spawn: Callable[..., greenabc.Task[Any]], every: float) -> None:
        self.ticks: list[float] = []
        self._every = every
        self._stop = threading.Event()
        self._task = spawn(self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.ticks.append(time.monotonic())
            time.sleep(self._every)

    def stop(self) -> None:
        self._stop.set()
        self._task.get(PROMPT)

    def between(self, start: float, end: float) -> int:
        return len([t for t in self.ticks if start <= t <= end])


# -- the two calls ---------------------------------------------------------------


def test_run_returns_the_result(run: Callable[..., Any]) -> None:
    assert run(double, 21) == 42


def test_run_raises_the_coroutines_exception(run: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="bad"):
        run(raises, ValueError("bad"))


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_run_carries_systemexit_and_keyboardinterrupt_and_the_loop_survives(
    run: Callable[..., Any], exc_type: type[BaseException]
) -> None:
    with pytest.raises(exc_type):
        run(raises, exc_type(3))
    assert run(double, 1) == 2


def test_run_sync_returns_and_raises(run: Callable[..., Any], run_sync: Callable[..., Any]) -> None:
    def fail() -> None:
        raise KeyError("green")

    async def main() -> tuple[int, str]:
        value = await run_sync(len, "abc")
        with pytest.raises(KeyError) as info:
            await run_sync(fail)
        return value, str(info.value)

    assert run(main) == (3, "'green'")


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_run_sync_carries_systemexit_and_keyboardinterrupt(
    run: Callable[..., Any], run_sync: Callable[..., Any], exc_type: type[BaseException]
) -> None:
    def leave() -> None:
        raise exc_type(4)

    async def main() -> None:
        await run_sync(leave)

    with pytest.raises(exc_type):
        run(main)
    assert run(double, 2) == 4


def test_run_sync_hard_timeout(run: Callable[..., Any], run_sync: Callable[..., Any]) -> None:
    async def main() -> None:
        await run_sync(spin, 30, timeout=0.05)

    started = time.monotonic()
    with pytest.raises(greenabc.TaskTimedOut):
        run(main)
    assert time.monotonic() - started < PROMPT


def test_run_sync_on_a_pool_is_bounded_by_its_size(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    pool = greenabc_backend.create_pool(3)
    lock = threading.Lock()
    now = [0, 0]  # running, most at once

    def job() -> None:
        with lock:
            now[0] += 1
            now[1] = max(now)
        time.sleep(0.02)
        with lock:
            now[0] -= 1

    async def main() -> None:
        await asyncio.gather(*(run_sync(job, pool=pool) for _ in range(12)))

    try:
        run(main)
    finally:
        pool.close(timeout=PROMPT)
    assert now[1] == 3


def test_the_default_executor_runs_blocking_calls(run: Callable[..., Any]) -> None:
    async def main() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()
        slept = await asyncio.gather(*(asyncio.to_thread(time.sleep, 0.2) for _ in range(20)))
        addresses = await loop.getaddrinfo("localhost", 80)
        return len(slept), bool(addresses)

    started = time.monotonic()
    assert run(main) == (20, True)
    assert time.monotonic() - started < 0.2 + PROMPT


def test_run_from_a_to_thread_worker(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    # An OS thread outside the engine (a to_thread worker) is a caller too.
    assert greenabc_backend.to_thread(run, double, 5) == 10


def test_run_in_the_loops_own_thread_is_an_error(
    run: Callable[..., Any], greenabc_backend_name: str
) -> None:
    async def main() -> None:
        aio.run(double, 1, backend=greenabc_backend_name)

    with pytest.raises(RuntimeError, match="await instead"):
        run(main)


# -- concurrency: only the caller waits ---------------------------------------------


def test_200_green_tasks_await_coroutines_together_and_a_ticker_runs(
    big_pool: greenabc.Pool, run: Callable[..., Any]
) -> None:
    async def slow(i: int) -> int:
        await asyncio.sleep(0.3)
        return i

    ticker = Ticker(big_pool.spawn, 0.02)
    started = time.monotonic()
    tasks = [big_pool.spawn(run, slow, i) for i in range(200)]
    results = [task.get(10) for task in tasks]
    took = time.monotonic() - started
    ticker.stop()
    assert results == list(range(200))
    assert took < 0.3 + PROMPT, took
    assert ticker.between(started, started + took) >= 5, ticker.ticks  # the others ran


def test_200_run_sync_sleeps_gathered_finish_together(
    run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    async def main() -> float:
        started = time.monotonic()
        await asyncio.gather(*(run_sync(time.sleep, 0.3) for _ in range(200)))
        return time.monotonic() - started

    took = run(main)
    assert took < 0.3 + PROMPT, took


def test_a_run_sync_function_that_never_yields(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    """In a thread of its own (threads) the loop goes on; on a hub it waits,
    as every green thread of that hub does (docs/asyncio.md, "Where the loop
    runs"), and goes on after."""
    from greenabc.aio._loop import on_the_hub

    async def main() -> tuple[int, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        await asyncio.sleep(0)
        await run_sync(busy, 0.5)
        during = ticks
        await asyncio.sleep(0.1)
        ticker.cancel()
        return during, ticks - during

    during, after = run(main)
    assert after >= 3
    if on_the_hub(greenabc_backend):  # type: ignore[arg-type]
        assert during <= 1
    else:
        assert during >= 5


def test_a_coroutine_that_never_waits_leaves_green_threads_their_turn(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    # Only sleep(0): the loop always has a callback ready. On a hub it must
    # still let the hub run (the green ticker, and a socket's readiness).
    async def spin_on_the_loop(seconds: float) -> int:
        reader, writer = await asyncio.open_connection(*server.getsockname()[:2])
        end, turns, got = time.monotonic() + seconds, 0, b""
        pending = asyncio.ensure_future(reader.read(5))
        while time.monotonic() < end:
            await asyncio.sleep(0)
            turns += 1
        got = await asyncio.wait_for(pending, PROMPT)
        writer.close()
        assert got == b"hello"
        return turns

    import socket

    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        conn.sendall(b"hello")
        time.sleep(0.5)
        conn.close()

    served = greenabc_backend.spawn(serve)
    ticker = Ticker(greenabc_backend.spawn, 0.01)
    started = time.monotonic()
    try:
        assert run(spin_on_the_loop, 0.5) > 100
    finally:
        ticker.stop()
        server.close()
    served.get(PROMPT)
    assert ticker.between(started, started + 0.5) >= 10, ticker.ticks


def test_green_code_runs_a_loop_of_its_own_beside_greenabcs(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    # greenabc's loop started, then an application's own loop in this
    # (green) thread, and green tasks crossing into greenabc's meanwhile:
    # each loop sees itself running, green code neither while they wait.
    assert run(double, 1) == 2
    assert asyncio._get_running_loop() is None
    seen: list[bool] = []
    own_loop: asyncio.AbstractEventLoop | None = None

    async def on_greenabcs() -> bool:
        await asyncio.sleep(0.01)
        return asyncio.get_running_loop() is not own_loop

    def green() -> bool:
        return bool(run(on_greenabcs))

    async def own() -> None:
        nonlocal own_loop
        own_loop = asyncio.get_running_loop()
        tasks = [greenabc_backend.spawn(green) for _ in range(20)]
        while not all(task.ready() for task in tasks):
            await asyncio.sleep(0.005)
            seen.append(asyncio.get_running_loop() is own_loop)
        seen.extend(task.get(0) for task in tasks)

    asyncio.run(own())
    assert seen and all(seen), seen
    assert asyncio._get_running_loop() is None
    assert run(double, 2) == 4


# -- nesting and context -----------------------------------------------------------


def test_50_nested_round_trips_use_one_loop(
    run: Callable[..., Any], run_sync: Callable[..., Any], greenabc_backend_name: str
) -> None:
    loops: set[int] = set()

    async def inner(depth: int) -> int:
        loops.add(id(asyncio.get_running_loop()))
        if depth == 0:
            return 0
        below: int = await run_sync(green, depth - 1)
        return 1 + below

    def green(depth: int) -> int:
        return 1 + aio.run(inner, depth)  # no backend: the awaiting call's

    assert run(inner, 50) == 100
    assert len(loops) == 1


def test_nesting_inside_an_applications_own_loop_uses_that_loop(
    run_sync: Callable[..., Any], greenabc_backend: greenabc.Backend
) -> None:
    # asyncio.run in a thread of the application's own (not greenabc's loop).
    seen: list[object] = []

    async def where() -> object:
        return asyncio.get_running_loop()

    async def main() -> bool:
        mine = asyncio.get_running_loop()
        await run_sync(lambda: seen.append(aio.run(where)))
        return seen == [mine]

    if greenabc_backend.capabilities.is_green:
        # A patched thread is a green thread: that loop would run on the hub.
        pytest.skip("an application's own loop on a green engine's hub is not this bridge's")
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(main())))
    thread.start()
    thread.join(10)
    assert result == [True]


def test_contextvars_cross_both_ways(run: Callable[..., Any], run_sync: Callable[..., Any]) -> None:
    def green_side() -> tuple[str, str]:
        seen = color.get()
        color.set("green")  # seen by the coroutine it calls; not by its caller (a copy)
        return seen, aio.run(async_read)

    async def async_read() -> str:
        return color.get()

    async def main() -> tuple[str, tuple[str, str], str]:
        before = color.get()
        color.set("blue")
        seen = await run_sync(green_side)
        return before, seen, color.get()

    token = color.set("red")
    try:
        assert run(main) == ("red", ("blue", "green"), "blue")
        assert color.get() == "red"
    finally:
        color.reset(token)


def test_current_task_is_right_inside_run_sync_and_none_in_a_coroutine(
    big_pool: greenabc.Pool, run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    def green() -> bool:
        task = greenabc.current_task()
        return task is not None and not task.ready()

    async def main() -> tuple[object, bool, bool]:
        return greenabc.current_task(), await run_sync(green), await run_sync(green)

    assert big_pool.spawn(run, main).get(10) == (None, True, True)


# -- cancellation, green side to asyncio ------------------------------------------


def test_a_timeout_scope_cancels_the_awaited_coroutine(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    watched = Watched()
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired), greenabc_backend.timeout(0.1):
        run(watched.forever)
    assert time.monotonic() - started < PROMPT
    assert watched.cancelled  # waited for: cancelled before the raise


def test_a_hard_timeout_of_the_task_cancels_the_coroutine(
    big_pool: greenabc.Pool, run: Callable[..., Any]
) -> None:
    watched = Watched()
    task = big_pool.apply_async(run, (watched.forever,), timeout=0.1)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(PROMPT)
    assert wait_until(lambda: watched.cancelled)


def test_killing_the_task_cancels_the_coroutine(
    big_pool: greenabc.Pool, run: Callable[..., Any]
) -> None:
    watched = Watched()
    task = big_pool.spawn(run, watched.forever)
    assert wait_until(lambda: watched.started)
    assert task.kill(timeout=PROMPT)
    assert task.outcome == "killed"
    assert watched.cancelled


def test_a_soft_timeout_cancels_the_coroutine_and_reaches_the_caller(
    big_pool: greenabc.Pool, run: Callable[..., Any]
) -> None:
    watched = Watched()

    def caller() -> str:
        try:
            run(watched.forever)
        except greenabc.SoftTimeout:
            return "soft"
        return "ended"

    task = big_pool.apply_async(caller, soft_timeout=0.1)
    assert task.get(PROMPT) == "soft"
    assert watched.cancelled


def test_a_result_after_the_deadline_is_discarded(
    big_pool: greenabc.Pool, run: Callable[..., Any]
) -> None:
    # The task's outcome is decided at its deadline; the coroutine's value,
    # ready just after, is not its result.
    async def late() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return "late value"  # swallows the cancellation and returns
        return "never"

    task = big_pool.apply_async(run, (late,), timeout=0.1)
    with pytest.raises(greenabc.TaskTimedOut):
        task.get(PROMPT)
    assert task.outcome == "timed out"


# -- cancellation, asyncio to green side -------------------------------------------


def test_cancelling_the_awaiting_task_kills_the_green_task(
    run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    seen: list[str] = []
    entered = threading.Event()

    def green() -> None:
        task = greenabc.current_task()
        entered.set()
        try:
            spin(30)
        except BaseException as exc:
            seen.append(type(exc).__name__)
            assert task is not None
            seen.append(str(task.outcome))
            raise

    async def main() -> float:
        awaiting = asyncio.ensure_future(run_sync(green))
        while not entered.is_set():
            await asyncio.sleep(0.005)
        awaiting.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await awaiting
        return time.monotonic() - started

    took = run(main)
    assert took < PROMPT
    assert seen == ["KillInterrupt", "killed"]  # it ended before the CancelledError


def test_cancelling_before_the_green_task_starts(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    pool = greenabc_backend.create_pool(1)
    ran: list[int] = []
    blocker = threading.Event()

    async def main() -> None:
        first = asyncio.ensure_future(run_sync(blocker.wait, 10, pool=pool))
        second = asyncio.ensure_future(run_sync(ran.append, 1, pool=pool))
        await asyncio.sleep(0.05)
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        await run_sync(blocker.set)  # the engine's Event: set on its side
        await first

    try:
        run(main)
    finally:
        pool.close(timeout=PROMPT)
    assert ran == []


def test_many_callers_at_once_each_gets_its_own_result(
    big_pool: greenabc.Pool, run: Callable[..., Any], greenabc_backend: greenabc.Backend
) -> None:
    count = 2000 if greenabc_backend.capabilities.is_green else 200
    pool = greenabc_backend.create_pool(count)

    async def echo(i: int) -> int:
        await asyncio.sleep(0.05)
        return i

    try:
        tasks = [pool.spawn(run, echo, i) for i in range(count)]
        assert [task.get(30) for task in tasks] == list(range(count))
    finally:
        pool.close(timeout=PROMPT)
