"""The primitives for library authors on the backend
under test: the standard library's semantics, under contention, across green
threads and OS threads.

Concurrency comes from the backend's own pools (green threads on a green
engine); a *foreign* OS thread is started with the unpatched
``_thread.start_new_thread`` (a patched ``threading.Thread`` is a greenlet).
"""

from __future__ import annotations

import _thread
import contextlib
import queue
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenabc
from greenabc import interfaces

from ._helpers import PROMPT, wait_until

Backend = greenabc.Backend


@pytest.fixture
def pool(greenabc_backend: Backend) -> Iterator[greenabc.Pool]:
    p = greenabc_backend.create_pool(16)
    yield p
    p.close(timeout=5)


def _original(backend: Backend, module: str, name: str, default: Any) -> Any:
    if backend.patcher is not None:
        with contextlib.suppress(Exception):
            return backend.patcher.original(module, name)
    return default


def start_os_thread(backend: Backend, fn: Callable[[], object]) -> None:
    """Start *fn* in a real OS thread, even in a patched process."""
    _original(backend, "_thread", "start_new_thread", _thread.start_new_thread)(fn, ())


def os_ident(backend: Backend) -> int:
    ident: int = _original(backend, "_thread", "get_ident", _thread.get_ident)()
    return ident


def blocking_sleep(backend: Backend, seconds: float) -> None:
    """A sleep that really blocks its OS thread (the unpatched one)."""
    _original(backend, "time", "sleep", time.sleep)(seconds)


def later(backend: Backend, seconds: float, fn: Callable[..., object], *args: Any) -> None:
    backend.sleep(seconds)
    fn(*args)


# -- the surface ---------------------------------------------------------------


def test_backend_implements_the_protocol(greenabc_backend: Backend) -> None:
    missing = [m for m in interfaces.BACKEND_MEMBERS if not hasattr(greenabc_backend, m)]
    assert missing == []
    engine = getattr(greenabc_backend, "engine", None)
    if engine is not None:  # built on EngineBackend
        assert [m for m in interfaces.ENGINE_MEMBERS if not hasattr(engine, m)] == []


def test_module_level_names_use_the_default_backend(greenabc_backend: Backend) -> None:
    default = greenabc.get_backend()
    assert type(greenabc.Event()) is type(default.Event())
    assert type(greenabc.Queue(3)) is type(default.Queue(3))
    q = greenabc.Queue()
    q.put(1)
    assert q.get(timeout=PROMPT) == 1
    greenabc.sleep(0)
    assert greenabc.to_thread(sum, [1, 2, 3]) == 6


# -- Event ------------------------------------------------------------------------


def test_event_semantics(greenabc_backend: Backend) -> None:
    ev = greenabc_backend.Event()
    assert not ev.is_set()
    started = time.monotonic()
    assert ev.wait(0.05) is False
    assert time.monotonic() - started >= 0.04
    assert ev.wait(0) is False
    ev.set()
    assert ev.is_set()
    assert ev.wait() is True
    assert ev.wait(0) is True
    ev.clear()
    assert not ev.is_set()


def test_event_set_from_another_green_thread(
    greenabc_backend: Backend, pool: greenabc.Pool
) -> None:
    ev = greenabc_backend.Event()
    woken = []

    def waiter(n: int) -> None:
        woken.append((n, ev.wait(10)))

    for n in range(5):
        pool.spawn(waiter, n)
    pool.spawn(later, greenabc_backend, 0.05, ev.set)
    assert pool.join(timeout=10)
    assert sorted(woken) == [(n, True) for n in range(5)]


def test_event_set_from_an_os_thread(greenabc_backend: Backend) -> None:
    ev = greenabc_backend.Event()

    def foreign() -> None:
        blocking_sleep(greenabc_backend, 0.05)
        greenabc_backend.from_thread(ev.set)

    start_os_thread(greenabc_backend, foreign)
    assert ev.wait(10)


# -- Lock, RLock ------------------------------------------------------------------


def test_lock_mutual_exclusion_under_contention(
    greenabc_backend: Backend, pool: greenabc.Pool
) -> None:
    lock = greenabc_backend.Lock()
    inside = []
    most = [0]
    total = [0]

    def work() -> None:
        for _ in range(20):
            with lock:
                inside.append(1)
                most[0] = max(most[0], len(inside))
                value = total[0]
                greenabc_backend.sleep(0)  # switch with the lock held
                total[0] = value + 1
                inside.pop()

    for _ in range(8):
        pool.spawn(work)
    assert pool.join(timeout=30)
    assert total[0] == 160
    assert most[0] == 1


def test_lock_semantics(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    lock = greenabc_backend.Lock()
    with pytest.raises(RuntimeError):
        lock.release()
    assert lock.acquire()
    assert lock.acquire(False) is False
    started = time.monotonic()
    assert lock.acquire(True, 0.05) is False
    assert time.monotonic() - started >= 0.04
    # Released by another green thread (a Lock has no owner), a waiter gets it.
    pool.spawn(later, greenabc_backend, 0.05, lock.release)
    assert lock.acquire(True, 10)
    lock.release()


def test_rlock_reentrancy_and_ownership(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    rlock = greenabc_backend.RLock()
    with pytest.raises(RuntimeError):
        rlock.release()
    assert rlock.acquire()
    assert rlock.acquire()
    with rlock:
        pass
    assert pool.spawn(rlock.acquire, False).get(timeout=10) is False
    with pytest.raises(RuntimeError):
        pool.spawn(rlock.release).get(timeout=10)
    rlock.release()
    rlock.release()
    with pytest.raises(RuntimeError):
        rlock.release()

    def take_and_give_back() -> bool:
        if not rlock.acquire(False):
            return False
        rlock.release()
        return True

    assert pool.spawn(take_and_give_back).get(10)


# -- Semaphore, BoundedSemaphore ---------------------------------------------------


def test_semaphore_bounds_concurrency(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    sem = greenabc_backend.Semaphore(3)
    inside = []
    most = [0]

    def work() -> None:
        with sem:
            inside.append(1)
            most[0] = max(most[0], len(inside))
            greenabc_backend.sleep(0.01)
            inside.pop()

    for _ in range(12):
        pool.spawn(work)
    assert pool.join(timeout=30)
    assert 1 <= most[0] <= 3


def test_semaphore_semantics(greenabc_backend: Backend) -> None:
    sem = greenabc_backend.Semaphore(0)
    assert sem.acquire(False) is False
    assert sem.acquire(True, 0.02) is False
    sem.release(2)
    assert sem.acquire(False) and sem.acquire(False)
    assert sem.acquire(False) is False
    with pytest.raises(ValueError):
        greenabc_backend.Semaphore(-1)


def test_bounded_semaphore_over_release(greenabc_backend: Backend) -> None:
    bsem = greenabc_backend.BoundedSemaphore(2)
    with pytest.raises(ValueError):
        bsem.release()
    assert bsem.acquire()
    assert bsem.acquire()
    bsem.release()
    bsem.release()
    with pytest.raises(ValueError):
        bsem.release()


# -- Condition --------------------------------------------------------------------


def test_condition_producer_consumer(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    cond = greenabc_backend.Condition()
    items: list[int] = []
    got: list[int] = []

    def consumer() -> None:
        for _ in range(10):
            with cond:
                assert cond.wait_for(lambda: items, timeout=10)
                got.append(items.pop(0))

    def producer() -> None:
        for n in range(20):
            with cond:
                items.append(n)
                cond.notify()
            greenabc_backend.sleep(0.001)

    pool.spawn(consumer)
    pool.spawn(consumer)
    pool.spawn(producer)
    assert pool.join(timeout=30)
    assert sorted(got) == list(range(20))


def test_condition_semantics(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    cond = greenabc_backend.Condition(greenabc_backend.Lock())
    with pytest.raises(RuntimeError):
        cond.wait(0.01)
    with pytest.raises(RuntimeError):
        cond.notify()
    with cond:
        started = time.monotonic()
        assert cond.wait(0.05) is False
        assert time.monotonic() - started >= 0.04
        assert cond.wait_for(lambda: False, timeout=0.02) is False
    woken = []

    def waiter() -> None:
        with cond:
            woken.append(cond.wait(10))

    for _ in range(3):
        pool.spawn(waiter)
    assert wait_until(lambda: len(getattr(cond, "_waiters", [0, 0, 0])) >= 3, 10)
    greenabc_backend.sleep(0.05)
    with cond:
        cond.notify_all()
    assert pool.join(timeout=10)
    assert woken == [True, True, True]


# -- Queue ------------------------------------------------------------------------


def test_bounded_queue_producers_consumers(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    q = greenabc_backend.Queue(maxsize=5)
    producers, per_producer, consumers = 4, 150, 3
    got: list[tuple[int, int]] = []
    most = [0]

    def produce(p: int) -> None:
        for n in range(per_producer):
            q.put((p, n))

    def consume() -> None:
        while True:
            item = q.get()
            most[0] = max(most[0], q.qsize())
            try:
                if item is None:
                    return
                got.append(item)
                if len(got) % 7 == 0:
                    greenabc_backend.sleep(0)
            finally:
                q.task_done()

    tasks = [pool.spawn(produce, p) for p in range(producers)]
    for _ in range(consumers):
        pool.spawn(consume)
    for task in tasks:
        task.get(timeout=30)
    q.join()  # every item put is done: nothing is lost
    assert len(got) == producers * per_producer
    for _ in range(consumers):
        q.put(None)
    assert pool.join(timeout=30)
    counts = Counter(got)
    assert set(counts.values()) == {1}  # nothing duplicated
    assert set(counts) == {(p, n) for p in range(producers) for n in range(per_producer)}
    for p in range(producers):  # FIFO per producer
        assert [n for (pp, n) in got if pp == p] == list(range(per_producer))
    assert most[0] <= 5


def test_queue_full_empty_and_timeouts(greenabc_backend: Backend) -> None:
    q = greenabc_backend.Queue(maxsize=1)
    assert q.empty() and not q.full()
    q.put("a")
    assert q.full() and q.qsize() == 1
    with pytest.raises(queue.Full):
        q.put_nowait("b")
    started = time.monotonic()
    with pytest.raises(queue.Full):
        q.put("b", timeout=0.05)
    assert time.monotonic() - started >= 0.04
    with pytest.raises(queue.Full):
        q.put("b", block=False)
    assert q.get() == "a"
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    with pytest.raises(queue.Empty):
        q.get(block=False)
    q.task_done()
    with pytest.raises(ValueError):
        q.task_done()
    unbounded = greenabc_backend.Queue()
    for n in range(1000):
        unbounded.put_nowait(n)
    assert unbounded.qsize() == 1000 and not unbounded.full()


def test_queue_blocked_put_and_get_wake(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    q = greenabc_backend.Queue(maxsize=1)
    q.put(0)
    task = pool.spawn(q.put, 1, True, 10)  # blocks: full
    greenabc_backend.sleep(0.05)
    assert not task.ready()
    assert q.get(timeout=10) == 0
    task.get(timeout=10)
    assert q.get(timeout=10) == 1
    getter = pool.spawn(q.get, True, 10)  # blocks: empty
    greenabc_backend.sleep(0.05)
    assert not getter.ready()
    q.put("x")
    assert getter.get(timeout=10) == "x"


# -- local ------------------------------------------------------------------------


def test_local_is_isolated_per_green_thread(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    loc = greenabc_backend.local()
    loc.name = "main"
    seen: dict[int, object] = {}

    def work(n: int) -> None:
        assert not hasattr(loc, "name")
        loc.name = n
        greenabc_backend.sleep(0.01)  # others set theirs meanwhile
        seen[n] = loc.name
        del loc.name
        assert not hasattr(loc, "name")

    for n in range(6):
        pool.spawn(work, n)
    assert pool.join(timeout=10)
    assert seen == {n: n for n in range(6)}
    assert loc.name == "main"
    with pytest.raises(AttributeError):
        _ = loc.missing


# -- to_thread / from_thread -------------------------------------------------------


def test_to_thread_keeps_the_engine_running(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    ticks = [0]
    stop = greenabc_backend.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks[0] += 1
            greenabc_backend.sleep(0.01)

    pool.spawn(ticker)
    greenabc_backend.sleep(0.02)
    before = ticks[0]
    caller = os_ident(greenabc_backend)

    def blocking() -> int:
        blocking_sleep(greenabc_backend, 0.3)  # really blocks its OS thread
        return os_ident(greenabc_backend)

    try:
        worker = greenabc_backend.to_thread(blocking)
        during = ticks[0] - before
    finally:
        stop.set()
    assert pool.join(timeout=10)
    assert during >= 3, f"the ticker ticked {during} times in 0.3 s"
    if greenabc_backend.capabilities.is_green:
        assert worker != caller  # a real OS thread of the pool


def test_to_thread_results_and_errors(greenabc_backend: Backend) -> None:
    assert greenabc_backend.to_thread(lambda a, b=0: a + b, 1, b=2) == 3
    empty: dict[str, int] = {}
    with pytest.raises(KeyError, match="boom"):
        greenabc_backend.to_thread(lambda: empty["boom"])


def test_to_thread_runs_calls_at_once(greenabc_backend: Backend, pool: greenabc.Pool) -> None:
    started = time.monotonic()
    tasks = [
        pool.spawn(greenabc_backend.to_thread, blocking_sleep, greenabc_backend, 0.3)
        for _ in range(4)
    ]
    for task in tasks:
        task.get(timeout=20)
    assert time.monotonic() - started < 1.1  # one after another: 1.2 s


def test_from_thread_from_a_foreign_os_thread(greenabc_backend: Backend) -> None:
    greenabc_backend.sleep(0)  # the engine thread has used the backend
    engine_thread = os_ident(greenabc_backend)
    done = greenabc_backend.Event()
    results: list[Any] = []

    def in_engine(x: int) -> tuple[int, int]:
        greenabc_backend.sleep(0.01)  # may block (it runs in a green thread)
        return x * 2, os_ident(greenabc_backend)

    def foreign() -> None:
        try:
            results.append(greenabc_backend.from_thread(in_engine, 21))
            try:
                greenabc_backend.from_thread(lambda: 1 / 0)
            except ZeroDivisionError as exc:
                results.append(exc)
        finally:
            greenabc_backend.from_thread(done.set)

    start_os_thread(greenabc_backend, foreign)
    assert done.wait(10)
    value, ran_in = results[0]
    assert value == 42
    assert isinstance(results[1], ZeroDivisionError)
    if greenabc_backend.capabilities.is_green:
        assert ran_in == engine_thread


def test_from_thread_inside_to_thread(greenabc_backend: Backend) -> None:
    engine_thread = os_ident(greenabc_backend)

    def worker() -> tuple[str, int]:
        return greenabc_backend.from_thread(lambda: ("home", os_ident(greenabc_backend)))

    name, ran_in = greenabc_backend.to_thread(worker)
    assert name == "home"
    if greenabc_backend.capabilities.is_green:
        assert ran_in == engine_thread


def test_from_thread_in_the_engine_calls_in_place(greenabc_backend: Backend) -> None:
    assert greenabc_backend.from_thread(lambda x: x + 1, 1) == 2


# -- wait_readable / wait_writable --------------------------------------------------


@pytest.fixture
def socketpair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def test_wait_readable_times_out(
    greenabc_backend: Backend, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = socketpair
    started = time.monotonic()
    assert greenabc_backend.wait_readable(a, timeout=0.1) is False
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < PROMPT
    assert greenabc_backend.wait_readable(a.fileno(), timeout=0) is False


def test_wait_readable_wakes_on_data(
    greenabc_backend: Backend, pool: greenabc.Pool, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = socketpair
    pool.spawn(later, greenabc_backend, 0.05, b.sendall, b"x")
    started = time.monotonic()
    assert greenabc_backend.wait_readable(a, timeout=10) is True
    assert time.monotonic() - started < PROMPT
    assert a.recv(1) == b"x"
    b.sendall(b"y")
    assert greenabc_backend.wait_readable(a) is True  # no timeout


def test_wait_writable(
    greenabc_backend: Backend, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = socketpair
    assert greenabc_backend.wait_writable(a, timeout=5) is True
    assert greenabc_backend.wait_writable(a.fileno()) is True


def test_wait_fd_rejects_bad_arguments(greenabc_backend: Backend) -> None:
    with pytest.raises(TypeError):
        greenabc_backend.wait_readable("not a file", timeout=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        greenabc_backend.wait_readable(-1, timeout=0)
