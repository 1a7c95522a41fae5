"""greenabc.aio under abuse: cancellation storms, a coroutine that ignores
its cancellation, scopes expiring together, signals, interpreter exit with
the loop busy."""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import pytest

import greenabc
from greenabc import aio

from ._helpers import PROMPT, Counter, spin, wait_until

#: Skipped on a backend that declares can_bridge_asyncio=False.
pytestmark = pytest.mark.usefixtures("aio_bridge")


def test_a_storm_of_cancelled_run_sync_calls_leaves_no_green_task_running(
    run: Callable[..., Any], run_sync: Callable[..., Any], greenabc_backend: greenabc.Backend
) -> None:
    count = 300 if greenabc_backend.capabilities.is_green else 100
    running = Counter()
    rng = random.Random(17)

    def green(seconds: float) -> str:
        running.enter()
        try:
            spin(seconds)
            return "done"
        finally:
            running.leave()

    async def one(seconds: float, cancel_after: float) -> str:
        call = asyncio.ensure_future(run_sync(green, seconds))
        await asyncio.sleep(cancel_after)
        call.cancel()
        try:
            return str(await call)
        except asyncio.CancelledError:
            return "cancelled"

    async def storm() -> list[str]:
        calls = (one(rng.uniform(0, 0.05), rng.uniform(0, 0.05)) for _ in range(count))
        return list(await asyncio.gather(*calls))

    outcomes = run(storm)
    assert set(outcomes) <= {"done", "cancelled"}
    assert "cancelled" in outcomes
    assert wait_until(lambda: running.now == 0), running.now
    assert running.calls <= count


def test_a_storm_of_scopes_around_run_leaves_no_coroutine_running(
    run: Callable[..., Any], greenabc_backend: greenabc.Backend
) -> None:
    count = 300 if greenabc_backend.capabilities.is_green else 100
    live = [0]  # changed on the loop's thread only
    rng = random.Random(23)

    async def coroutine(seconds: float) -> str:
        live[0] += 1
        try:
            await asyncio.sleep(seconds)
            return "done"
        finally:
            live[0] -= 1

    def caller(limit: float, seconds: float) -> str:
        try:
            with greenabc_backend.timeout(limit):
                return str(run(coroutine, seconds))
        except greenabc.TimeoutExpired:
            return "expired"

    pool = greenabc_backend.create_pool(count)
    try:
        tasks = [
            pool.spawn(caller, rng.uniform(0.001, 0.03), rng.uniform(0, 0.03)) for _ in range(count)
        ]
        outcomes = [task.get(30) for task in tasks]
    finally:
        pool.close(timeout=PROMPT)
    assert set(outcomes) <= {"done", "expired"}
    assert "expired" in outcomes
    assert wait_until(lambda: live[0] == 0), live


def test_a_coroutine_that_ignores_its_cancellation_is_waited_for_boundedly(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    ended = [False]

    async def stubborn() -> str:
        deadline = time.monotonic() + aio.CANCEL_GRACE + 1.0
        while time.monotonic() < deadline:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                pass  # ignored, again and again
        ended[0] = True
        return "late"

    started = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, logger="greenabc"),
        pytest.raises(greenabc.TimeoutExpired),
        greenabc_backend.timeout(0.05),
    ):
        run(stubborn)
    took = time.monotonic() - started
    # The caller waited its grace, no more, and got its interrupt.
    assert aio.CANCEL_GRACE <= took < aio.CANCEL_GRACE + PROMPT, took
    assert not ended[0]
    assert "did not finish within" in caplog.text
    assert wait_until(lambda: ended[0], 5)  # it ran on; its result went nowhere


def test_nested_scopes_expiring_together_around_run(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    cancelled = [0]

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled[0] += 1
            raise

    for _ in range(20):
        started = time.monotonic()
        with (
            pytest.raises(greenabc.TimeoutExpired),
            greenabc_backend.timeout(0.02) as outer,
            greenabc_backend.timeout(0.02) as inner,
        ):
            run(forever)
        assert outer.expired or inner.expired
        assert time.monotonic() - started < PROMPT
    assert cancelled[0] == 20
    assert run(asyncio.sleep, 0, "after") == "after"


def test_a_timeout_scope_inside_the_green_side_of_a_nested_call(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any], run_sync: Callable[..., Any]
) -> None:
    # asyncio -> green (a scope) -> asyncio: the inner coroutine is cancelled,
    # the scope raises on the green side, the outer coroutine gets it.
    async def forever() -> None:
        await asyncio.sleep(60)

    def green() -> str:
        try:
            with greenabc_backend.timeout(0.05):
                aio.run(forever)
        except greenabc.TimeoutExpired:
            return "expired"
        return "ended"

    async def main() -> str:
        return str(await run_sync(green))

    assert run(main) == "expired"


def _script(backend: str, body: str) -> str:
    return textwrap.dedent(f"""
        import greenabc
        if {backend!r} != "threads":
            greenabc.patch({backend!r})
        import asyncio, os, sys, time
        from greenabc import aio
        from greenabc.aio import _loop
        backend = greenabc.get_backend({backend!r})
    """) + textwrap.dedent(body)


def test_a_coroutine_blocking_in_a_green_call_is_not_woken_by_other_callers(
    greenabc_backend: greenabc.Backend, run: Callable[..., Any]
) -> None:
    # Against the rules but common: a coroutine calls a blocking (patched)
    # function. On a hub the loop's green thread then waits outside its
    # selector; the wake-ups other callers send meanwhile must not land in
    # that call, and their coroutines run once it returns.
    async def blocks() -> str:
        for _ in range(3):
            time.sleep(0.05)
        return "slept"

    async def echo(i: int) -> int:
        await asyncio.sleep(0)
        return i

    pool = greenabc_backend.create_pool(30)
    try:
        blocker = pool.spawn(run, blocks)
        time.sleep(0.01)
        callers = [pool.spawn(run, echo, i) for i in range(20)]
        assert blocker.get(PROMPT * 2) == "slept"
        assert [task.get(PROMPT) for task in callers] == list(range(20))
    finally:
        pool.kill(timeout=PROMPT)


def _run_script(backend: str, body: str) -> subprocess.CompletedProcess[str]:
    """*body* run by a fresh interpreter on *backend* (``_script``)."""
    return subprocess.run(
        [sys.executable, "-c", _script(backend, body)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_interpreter_exit_with_the_loop_busy_leaves_no_thread_task_or_loop(
    greenabc_backend_name: str,
) -> None:
    body = """
        import atexit

        def count():  # registered first: runs after greenabc.aio's own handler
            loop = shared.loop
            print("closed", loop.is_closed(), "pending", len(asyncio.all_tasks(loop)),
                  "thread", shared.alive(), flush=True)

        atexit.register(count)

        async def forever():
            await asyncio.sleep(3600)

        async def stubborn():
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    return  # ignores one cancel, ends on the next... once

        def green():
            time.sleep(3600)

        async def awaits_green():
            await aio.run_sync(green, backend=backend.name)

        aio.run(asyncio.sleep, 0, backend=backend.name)
        shared = _loop._shared
        for fn in (forever, stubborn, awaits_green):
            backend.spawn(aio.run, fn, backend=backend.name)
        time.sleep(0.2)
        print("exiting", flush=True)
    """
    started = time.monotonic()
    result = _run_script(greenabc_backend_name, body)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    expected = ["exiting", "closed", "True", "pending", "0", "thread", "False"]
    assert result.stdout.split() == expected, result.stderr
    assert took < 15, took


def test_the_first_calls_from_engine_threads_and_os_threads_at_once(
    greenabc_backend_name: str,
) -> None:
    # The loop does not exist yet: green tasks and to_thread workers (OS
    # threads outside the engine) all start it at once; on a hub it is made
    # in the home engine thread while the others wait.
    body = """
        async def whose(i):
            await asyncio.sleep(0.01)
            return i

        pool = backend.create_pool(20)
        started = time.monotonic()
        green = [pool.spawn(aio.run, whose, i, backend=backend.name) for i in range(10)]
        threads = [
            pool.spawn(backend.to_thread, aio.run, whose, i, backend=backend.name)
            for i in range(10, 20)
        ]
        results = [task.get(10) for task in green + threads]
        print(results == list(range(20)), time.monotonic() - started < 5, flush=True)
    """
    result = _run_script(greenabc_backend_name, body)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"], result.stderr


def test_a_forked_child_neither_runs_nor_starves_the_parents_loop(
    greenabc_backend_name: str,
) -> None:
    # On a hub the child inherits the loop's green thread and the sockets it
    # watches (here an asyncio server's): woken there by the parent's
    # clients, the copy must end, not serve them with the parent's code.
    if greenabc_backend_name == "eventlet":
        pytest.skip(
            "eventlet keeps one epoll set for parent and forked child (it warns that fork"
            " is unsupported): a child that stops watching a file stops the parent's watch"
        )
    body = """
        import socket

        async def whose():
            await asyncio.sleep(0)
            return os.getpid()

        async def start():
            async def answer(reader, writer):
                await reader.readline()
                writer.write(f"{os.getpid()}\\n".encode())
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(answer, "127.0.0.1", 0)
            return server.sockets[0].getsockname()[1]

        port = aio.run(start, backend=backend.name)
        pid = os.fork()
        if pid == 0:
            time.sleep(1.0)  # green: the child's hub runs meanwhile
            ok = aio.run(whose, backend=backend.name) == os.getpid()  # a loop of its own
            os._exit(0 if ok else 3)
        answers, end = [], time.monotonic() + 1.5
        while time.monotonic() < end:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"hi\\n")
                answers.append(int(client.makefile().readline()))
            assert aio.run(whose, backend=backend.name) == os.getpid()
        _, status = os.waitpid(pid, 0)
        print("calls", len(answers) > 20, "others", len(set(answers) - {os.getpid()}),
              "child", os.waitstatus_to_exitcode(status), flush=True)
    """
    result = _run_script(greenabc_backend_name, body)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["calls", "True", "others", "0", "child", "0"], result.stderr


def test_ctrl_c_in_the_caller_cancels_the_coroutine(greenabc_backend_name: str) -> None:
    # SIGINT from outside, as a terminal sends it, in a process of its own.
    body = """
        state = []

        async def forever():
            try:
                print("waiting", flush=True)
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                state.append("cancelled")
                raise

        started = time.monotonic()
        try:
            aio.run(forever, backend=backend.name)
        except KeyboardInterrupt:
            state.append("KeyboardInterrupt")
        print(*state, time.monotonic() - started < 5, flush=True)
    """
    child = subprocess.Popen(
        [sys.executable, "-c", _script(greenabc_backend_name, body)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
    assert out.split() == ["cancelled", "KeyboardInterrupt", "True"], err
    assert child.returncode == 0, err


def test_the_loop_survives_a_stray_task_raising_systemexit(run: Callable[..., Any]) -> None:
    async def stray() -> None:
        raise SystemExit(5)

    async def spawn_stray() -> None:
        asyncio.get_running_loop().create_task(stray())
        await asyncio.sleep(0.05)

    run(spawn_stray)
    assert run(asyncio.sleep, 0, "alive") == "alive"


def test_stop_and_start_again(run: Callable[..., Any]) -> None:
    from greenabc.aio import _loop

    run(asyncio.sleep, 0)
    shared = _loop._shared
    assert shared is not None
    assert shared.alive()
    assert _loop.stop_shared_loop()
    assert shared.loop is not None and shared.loop.is_closed()
    assert wait_until(lambda: not shared.alive())
    assert run(asyncio.sleep, 0, "again") == "again"
