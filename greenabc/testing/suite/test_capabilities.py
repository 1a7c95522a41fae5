"""What a backend declares is what it does: each ``Capabilities`` flag is
checked against the backend's behaviour, so a backend that claims a
capability it lacks fails the kit. A flag that is False is either checked
against the weaker promise the docs make instead, or its test is skipped with
the reason. (``can_detect_blocking``: test_backend.py and test_blocking.py.)"""

from __future__ import annotations

import _thread
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import greenabc

from ._helpers import PROMPT, spin, wait_until

#: How long a "long" blocking call would last if nothing interrupted it.
LONG = 30.0
#: The short blocking call of the weaker promise (threads), so the test ends.
SHORT = 1.5
#: The weaker promise: a timeout is reported within this long of its deadline.
REPORTED_WITHIN = 1.0

INTERRUPTS = ["kill", "hard_timeout", "soft_timeout", "timeout_scope"]


def _skip_unless(backend: greenabc.Backend, flag: str, why: str) -> None:
    if not getattr(backend.capabilities, flag):
        pytest.skip(f"{backend.name} declares {flag}=False: {why}")


def _real_get_ident(backend: greenabc.Backend) -> Callable[[], int]:
    """The OS thread id, even where ``_thread`` is patched (patched, it
    returns green thread ids)."""
    if backend.patcher is not None:
        original: Callable[[], int] = backend.patcher.original("_thread", "get_ident")
        return original
    return _thread.get_ident


@contextmanager
def _pool(backend: greenabc.Backend, size: int) -> Iterator[greenabc.Pool]:
    pool = backend.create_pool(size)
    try:
        yield pool
    finally:
        pool.kill(timeout=PROMPT)
        pool.close(timeout=PROMPT)


class Probe:
    """Wraps one call: records that it started and how it ended."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.call = call
        self.started: list[float] = []
        self.ended: list[tuple[float, BaseException | None]] = []

    def __call__(self) -> str:
        self.started.append(time.monotonic())
        outcome: BaseException | None = None
        try:
            self.call()
        except BaseException as exc:
            outcome = exc
        noted = False
        while not noted:  # on threads an interrupt comes again every few ms, anywhere
            try:
                if not self.ended:
                    self.ended.append((time.monotonic(), outcome))
                noted = True
            except BaseException:
                pass
        if outcome is not None:
            raise outcome
        return "returned"

    def wait_started(self) -> None:
        assert wait_until(lambda: bool(self.started)), "the task did not start"
        # Give it time to be inside the call, past its first bytecodes, so
        # what is interrupted is the call itself.
        time.sleep(0.1)

    def assert_interrupted_by(self, since: float) -> None:
        assert wait_until(lambda: bool(self.ended)), (
            f"still running {PROMPT} s after it was interrupted"
        )
        ended_at, exc = self.ended[0]
        assert exc is not None, "the call returned instead of being interrupted"
        assert ended_at - since < PROMPT, f"interrupted only after {ended_at - since:.2f} s"


@contextmanager
def _blocking(kind: str, seconds: float) -> Iterator[Callable[[], object]]:
    """One call of the standard library that blocks for *seconds*."""
    if kind == "loop":
        yield lambda: spin(seconds)
    elif kind == "sleep":
        yield lambda: time.sleep(seconds)
    elif kind == "recv":
        reader, writer = socket.socketpair()
        reader.settimeout(seconds)  # bounded, should the backend fail to interrupt it
        try:
            yield lambda: reader.recv(1)
        finally:
            try:
                writer.sendall(b"x")  # frees a reader left behind
            except OSError:
                pass
            writer.close()
            reader.close()
    else:  # pragma: no cover
        raise AssertionError(kind)


def _check_interrupted(backend: greenabc.Backend, call: Callable[[], object], how: str) -> None:
    """*call* (which runs ``LONG`` seconds unless stopped) is stopped promptly
    by *how*."""
    probe = Probe(call)
    if how == "timeout_scope":
        started = time.monotonic()
        with pytest.raises(greenabc.TimeoutExpired), greenabc.timeout(0.1, backend=backend.name):
            probe()
        assert time.monotonic() - started < PROMPT
        assert probe.ended and probe.ended[0][1] is not None
        return
    with _pool(backend, 2) as pool:
        if how == "kill":
            task = pool.spawn(probe)
            probe.wait_started()
            since = time.monotonic()
            assert task.kill(timeout=PROMPT), f"kill() did not stop the task within {PROMPT} s"
            probe.assert_interrupted_by(since)
            with pytest.raises(greenabc.TaskKilled):
                task.get(PROMPT)
        else:
            since = time.monotonic()
            if how == "hard_timeout":
                task = pool.apply_async(probe, timeout=0.1)
                expected: type[BaseException] = greenabc.TaskTimedOut
            else:
                task = pool.apply_async(probe, soft_timeout=0.1)
                expected = greenabc.SoftTimeout
            with pytest.raises(expected):
                task.get(PROMPT)
            assert probe.started, "the task never started"
            probe.assert_interrupted_by(since)


# -- can_interrupt -------------------------------------------------------------


@pytest.mark.parametrize("how", INTERRUPTS)
def test_can_interrupt_a_running_loop(greenabc_backend: greenabc.Backend, how: str) -> None:
    _skip_unless(greenabc_backend, "can_interrupt", "it cannot stop a running task")
    with _blocking("loop", LONG) as call:
        _check_interrupted(greenabc_backend, call, how)


# -- can_interrupt_blocking_calls -----------------------------------------------


@pytest.mark.parametrize("kind", ["sleep", "recv"])
@pytest.mark.parametrize("how", INTERRUPTS)
def test_can_interrupt_blocking_calls(
    greenabc_backend: greenabc.Backend, how: str, kind: str
) -> None:
    if not greenabc_backend.capabilities.can_interrupt_blocking_calls:
        pytest.skip(
            f"{greenabc_backend.name} declares can_interrupt_blocking_calls=False:"
            " its weaker promise is checked by test_blocking_call_timeout_is_reported_on_time"
        )
    with _blocking(kind, LONG) as call:
        _check_interrupted(greenabc_backend, call, how)


@pytest.mark.parametrize("how", ["hard_timeout", "kill"])
def test_blocking_call_timeout_is_reported_on_time(
    greenabc_backend: greenabc.Backend, how: str
) -> None:
    """Where a blocking call cannot be interrupted, its outcome is still
    decided and reported on time, and its late result discarded."""
    if greenabc_backend.capabilities.can_interrupt_blocking_calls:
        pytest.skip(
            f"{greenabc_backend.name} declares can_interrupt_blocking_calls=True:"
            " checked by test_can_interrupt_blocking_calls"
        )
    outcomes: list[tuple[str, float, object]] = []

    def note(kind: str) -> Callable[[object], None]:
        return lambda value: outcomes.append((kind, time.monotonic(), value))

    expected = greenabc.TaskTimedOut if how == "hard_timeout" else greenabc.TaskKilled
    with _blocking("sleep", SHORT) as call, _pool(greenabc_backend, 2) as pool:
        probe = Probe(call)
        since = time.monotonic()
        task = pool.apply_async(
            probe,
            timeout=0.1 if how == "hard_timeout" else None,
            callback=note("callback"),
            error_callback=note("error_callback"),
            timeout_callback=note("timeout_callback"),
        )
        if how == "kill":
            probe.wait_started()
            since = time.monotonic()
            task.kill(block=False)
        with pytest.raises(expected):
            task.get(REPORTED_WITHIN)
        assert time.monotonic() - since < REPORTED_WITHIN + 0.2
        reported = "timeout_callback" if how == "hard_timeout" else "error_callback"
        assert wait_until(lambda: bool(outcomes), REPORTED_WITHIN)
        assert [kind for kind, _, _ in outcomes] == [reported]
        _, at, value = outcomes[0]
        assert isinstance(value, expected)
        assert at - since < REPORTED_WITHIN + 0.2, f"reported after {at - since:.2f} s"
        running = pool.stats()["running"]
        assert running == 1 or probe.ended, "its slot was freed while the call still ran"
        # The call runs on; when it returns, its result is discarded.
        assert wait_until(lambda: bool(probe.ended), SHORT + PROMPT)
        time.sleep(0.05)
        with pytest.raises(expected):
            task.get(0)
        assert [kind for kind, _, _ in outcomes] == [reported]


# -- can_patch ---------------------------------------------------------------------


def test_can_patch(greenabc_backend: greenabc.Backend) -> None:
    patcher = greenabc_backend.patcher
    if not greenabc_backend.capabilities.can_patch:
        assert patcher is None
        return
    assert patcher is not None
    patched = patcher.patch()  # idempotent: the kit has patched already
    assert isinstance(patched, list)
    assert patched, "patch() returned no module names"
    assert all(isinstance(name, str) for name in patched)
    unknown = sorted(set(patched) - set(sys.stdlib_module_names))
    assert not unknown, f"patch() returned names of no stdlib module: {unknown}"
    assert patcher.is_patched("socket")


# -- is_green ------------------------------------------------------------------------


def test_is_green_tasks_share_one_os_thread(greenabc_backend: greenabc.Backend) -> None:
    get_ident = _real_get_ident(greenabc_backend)
    count = 5
    idents: list[int] = []
    all_running: list[bool] = []

    def task() -> None:
        idents.append(get_ident())
        # Held until every task runs, so they are all running at once.
        all_running.append(wait_until(lambda: len(idents) == count))

    with _pool(greenabc_backend, count) as pool:
        tasks = [pool.spawn(task) for _ in range(count)]
        for t in tasks:
            t.get(2 * PROMPT)
    assert all_running == [True] * count, "the tasks did not run at once"
    if greenabc_backend.capabilities.is_green:
        assert len(set(idents)) == 1, f"green tasks ran in {len(set(idents))} OS threads"
    else:
        assert len(set(idents)) >= 2, "tasks of a backend that is not green shared one thread"


def test_tasks_sleep_concurrently(greenabc_backend: greenabc.Backend) -> None:
    count, seconds = 50, 0.2
    with _pool(greenabc_backend, count) as pool:
        started = time.monotonic()
        tasks = [pool.spawn(time.sleep, seconds) for _ in range(count)]
        for t in tasks:
            t.get(count * seconds)
        took = time.monotonic() - started
    assert took < count * seconds / 4, f"{count} sleeps of {seconds} s took {took:.2f} s"


# -- signal_safe -----------------------------------------------------------------------


def test_signal_handler_may_spawn(greenabc_backend: greenabc.Backend) -> None:
    _skip_unless(greenabc_backend, "signal_safe", "a signal handler must not call into its pool")
    sigusr1 = getattr(signal, "SIGUSR1", None)
    if sigusr1 is None:
        pytest.skip("no SIGUSR1 on this platform")
    ran: list[int] = []
    with _pool(greenabc_backend, 2) as pool:

        def handler(signum: int, frame: Any) -> None:
            pool.spawn(ran.append, signum)

        previous = signal.signal(sigusr1, handler)
        try:
            os.kill(os.getpid(), sigusr1)
            assert wait_until(lambda: bool(ran)), "the task spawned by the handler did not run"
        finally:
            signal.signal(sigusr1, previous)
    assert ran == [sigusr1]


# -- can_bridge_asyncio ----------------------------------------------------------------


def test_can_bridge_asyncio(greenabc_backend: greenabc.Backend, greenabc_backend_name: str) -> None:
    """Declared True: a crossing each way works (the aio tests check the
    rest). Declared False: both calls refuse at once, naming the flag."""
    from greenabc import aio

    async def answer() -> int:
        return 42

    async def through_green() -> int:
        return int(await aio.run_sync(int, "7", backend=greenabc_backend_name))

    if greenabc_backend.capabilities.can_bridge_asyncio:
        assert aio.run(answer, backend=greenabc_backend_name) == 42
        assert aio.run(through_green, backend=greenabc_backend_name) == 7
        return
    with pytest.raises(greenabc.GreenabcError, match="can_bridge_asyncio=False"):
        aio.run(answer, backend=greenabc_backend_name)
    import asyncio

    with pytest.raises(greenabc.GreenabcError, match="can_bridge_asyncio=False"):
        asyncio.run(through_green())
