"""Scale-out and soak, for real: several greenabc workers on one queue of one
redis-server, and one worker through a long stream of tasks, on gevent,
eventlet and threads (real ``celery worker`` subprocesses, stopped by pid).

The tasks are ``t.mixed`` (celery_app.py): 10 ms sleeps, CPU bursts and
100 kB results. The CI-sized runs are here by default; the full soak (200k
tasks) is behind ``--long``. Throughput against Celery's own pools is a
benchmark, not a test: benchmarks/celery_scale.py.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

celery = pytest.importorskip("celery", reason="the celery extra is not installed")
psutil = pytest.importorskip("psutil", reason="the dev extra is not installed")

from celery import Celery  # noqa: E402
from celery.result import ResultSet  # noqa: E402

from . import test_celery  # noqa: E402
from ._celery_worker import Worker  # noqa: E402
from ._waiting import wait_for  # noqa: E402

# test_celery's fixtures (a redis-server and a client app per module), and its mark.
redis_url, client, needs_redis = test_celery.redis_url, test_celery.client, test_celery.needs_redis

BACKENDS = ["gevent", "eventlet", "threads"]
MIX = ("sleep",) * 7 + ("cpu",) * 2 + ("big",)  # benchmarks/celery_scale.py's pattern
#: -c per worker: on threads each running task holds an OS thread.
CONCURRENCY = {"gevent": 50, "eventlet": 50, "threads": 20}


def _kind(n: int) -> str:
    return MIX[n % len(MIX)]


def _check_results(results: list[Any], first: int, timeout: float) -> None:
    """Every result of the tasks sent from number *first* on arrives; the big
    ones are whole. Read from the result store (one MGET per look), not by
    Celery's pub/sub result consumer: in a 200k soak that consumer lost its
    subscriptions after about 40,000 tasks and waited for results long
    stored (every task had run, nothing queued or unacked)."""
    backend = results[0].backend
    keys = [backend.get_key_for_task(result.id) for result in results]
    deadline = time.monotonic() + timeout
    while True:
        stored = backend.client.mget(keys)
        missing = sum(payload is None for payload in stored)
        if not missing:
            break
        assert time.monotonic() < deadline, f"{missing} of {len(keys)} results not stored"
        time.sleep(0.05)
    for n, payload in enumerate(stored, first):
        meta = backend.decode_result(payload)
        assert meta["status"] == "SUCCESS", meta
        if _kind(n) == "big":
            assert meta["result"] == "x" * 100_000


# --------------------------------------------------------------------------
# Several workers, one queue.


@needs_redis
@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", BACKENDS)
def test_several_workers_share_one_queue(
    backend: str,
    redis_url: str,
    client: Celery,
    tmp_path: Path,
) -> None:
    """3 workers on one queue: every task of the mix runs exactly once (counted
    by id, each run appends one line), and every worker takes some."""
    queue = f"shared-{uuid.uuid4().hex[:8]}"
    record = tmp_path / "ran.txt"
    # Worker's own queue, then this one: celery's -Q keeps the last given.
    workers = [
        Worker(redis_url, backend, tmp_path, CONCURRENCY[backend], ("-Q", queue)) for _ in range(3)
    ]
    try:
        for worker in workers:
            worker.wait_ready()
        count = 300
        results = [
            client.send_task("t.mixed", (_kind(n), str(record)), queue=queue) for n in range(count)
        ]
        _check_results(results, 0, timeout=120)
        time.sleep(0.5)  # a task run twice would append its line late
        lines = record.read_text().splitlines()
        runs = collections.Counter(line.split()[0] for line in lines)
        by_worker = collections.Counter(line.split()[1] for line in lines)
        print(f"{backend}: {count} tasks on 3 workers: {dict(by_worker)}")
        assert set(runs) == {r.id for r in results}
        assert [task for task, n in runs.items() if n != 1] == []
        assert set(by_worker) == {w.hostname for w in workers}, by_worker
        for worker in workers:
            log = worker.log()
            assert "Traceback" not in log, log[-3000:]
            assert f"{queue}" in log  # it consumed the shared queue (banner)
    finally:
        for worker in workers:
            worker.stop()


# --------------------------------------------------------------------------
# The soak: one worker, a long stream, RSS and the control API.


@dataclass
class Soak:
    """What a soak measured: the worker's RSS after each chunk, and how long
    each control call took to answer while tasks were flowing."""

    count: int
    chunk: int
    took: float = 0.0
    worker_cpu: float = 0.0  # s, user + system
    client_cpu: float = 0.0  # s, this process
    rss: list[tuple[int, int]] = field(default_factory=list)  # (tasks done, bytes)
    answers: dict[str, float] = field(default_factory=dict)  # call: seconds to answer
    answered_at: dict[str, int] = field(default_factory=dict)  # call: tasks done then
    errors: list[str] = field(default_factory=list)

    def growth(self, warmup: float) -> tuple[int, int, int, float]:
        """RSS after warm-up, at the end, its max after warm-up, and the growth."""
        after = [rss for done, rss in self.rss if done >= self.count * warmup]
        base = after[0]
        return base, after[-1], max(after), (after[-1] - base) / base


class Control(threading.Thread):
    """The control API from this process while the soak runs: inspect stats,
    active, scheduled (an ETA task), revoke it, and inspect revoked."""

    def __init__(self, url: str, worker: Worker, soak: Soak, done: Callable[[], int]) -> None:
        super().__init__(daemon=True)
        self.app = Celery("greenabc-soak-control", broker=url, backend=url)
        self.worker = worker
        self.soak = soak
        self.done = done
        self.eta: Any = None

    def ask(self, call: str, predicate: Callable[[Any], bool]) -> Any:
        """Ask until the reply satisfies *predicate* (a broadcast reply can
        miss its window on a loaded machine); record how long it took."""
        started = time.monotonic()
        inspect = self.app.control.inspect([self.worker.hostname], timeout=3)

        def answered() -> Any:
            reply = getattr(inspect, call)() or {}
            mine = reply.get(self.worker.hostname)
            return mine if mine is not None and predicate(mine) else None

        mine = wait_for(answered, 60, f"inspect {call} during the soak")
        self.soak.answers[call] = time.monotonic() - started
        self.soak.answered_at[call] = self.done()
        return mine

    def run(self) -> None:
        try:
            stats = self.ask("stats", lambda s: s["pool"]["greenabc"]["completed"] > 0)
            assert stats["pool"]["implementation"] == "greenabc.contrib.celery:TaskPool"
            self.ask("active", lambda active: isinstance(active, list))
            self.eta = self.app.send_task("t.add", (1, 1), queue=self.worker.queue, countdown=20)
            eta_id = self.eta.id
            self.ask("scheduled", lambda s: eta_id in [e["request"]["id"] for e in s])
            started = time.monotonic()
            self.app.control.revoke(eta_id)
            self.soak.answers["revoke"] = time.monotonic() - started
            self.ask("revoked", lambda revoked: eta_id in revoked)
        except BaseException as exc:  # reported by the test
            self.soak.errors.append(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        self.app.close()


def soak(app: Celery, url: str, worker: Worker, count: int, chunk: int = 500) -> Soak:
    """*count* tasks of the mix through *worker*, *chunk* at a time with two
    chunks in flight (so the worker never runs dry), each chunk's results
    checked and forgotten; the control calls run meanwhile, once a tenth is
    done."""
    report = Soak(count, chunk)
    pid = worker.process.pid
    done = 0
    control = Control(url, worker, report, lambda: done)
    pending: collections.deque[list[Any]] = collections.deque()
    process = psutil.Process(pid)
    cpu0, client0 = sum(process.cpu_times()[:2]), time.process_time()
    started = time.monotonic()
    try:
        for first in range(0, count, chunk):
            sent = [
                app.send_task("t.mixed", (_kind(n),), queue=worker.queue)
                for n in range(first, min(first + chunk, count))
            ]
            pending.append(sent)
            while len(pending) > 1 or (pending and first + chunk >= count):
                results = pending.popleft()
                _check_results(results, done, timeout=300)
                ResultSet(results).forget()
                done += len(results)
                report.rss.append((done, process.memory_info().rss))
                if done >= count // 10 and not control.is_alive() and control.ident is None:
                    control.start()
        report.took = time.monotonic() - started
        report.worker_cpu = sum(process.cpu_times()[:2]) - cpu0
        report.client_cpu = time.process_time() - client0
        control.join(120)
        assert not control.is_alive(), "the control calls did not finish"
        if control.eta is not None:
            eta = control.eta
            wait_for(lambda: eta.state == "REVOKED", 60, "the revoked ETA task to be REVOKED")
    finally:
        control.close()
    return report


def _print(backend: str, report: Soak, warmup: float) -> None:
    base, end, peak, growth = report.growth(warmup)
    mib = 1024 * 1024
    print(
        f"{backend}: {report.count} tasks in {report.took:.0f} s"
        f" ({report.count / report.took:.0f}/s), worker CPU {report.worker_cpu:.0f} s,"
        f" this process's {report.client_cpu:.0f} s; RSS after warm-up {base / mib:.1f} MiB,"
        f" at the end {end / mib:.1f} MiB ({growth:+.1%}), max {peak / mib:.1f} MiB;"
        f" control answers (s): { {k: round(v, 2) for k, v in report.answers.items()} }"
        f" at tasks done {report.answered_at}"
    )


def _check(report: Soak, warmup: float, bound: float) -> None:
    assert report.errors == []
    # Answered while tasks were still flowing.
    for call in ("stats", "active", "scheduled", "revoked"):
        assert report.answered_at[call] < report.count, (call, report.answered_at)
    growth = report.growth(warmup)[3]
    assert growth < bound, f"RSS grew {growth:.1%} after warm-up: {report.rss}"


@pytest.fixture
def soak_worker(redis_url: str, tmp_path: Path) -> Iterator[Callable[[str], Worker]]:
    started: list[Worker] = []

    def start(backend: str) -> Worker:
        worker = Worker(redis_url, backend, tmp_path, CONCURRENCY[backend] * 2)
        started.append(worker)
        worker.wait_ready()
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


#: The CI-sized soak per backend: tasks and the warm-up's share; the RSS growth
#: allowed after it is 10 % (a short run has less time to settle than the long
#: one's 5 %). On threads the worker's 40 OS threads fill their malloc arenas
#: over the first ~7,000 tasks (one 30k run: 65.1 MiB at 1,000 tasks, 72.8 at
#: 6,000, 75.0 at 30,000), so that run is longer and its warm-up half of it.
SHORT_SOAK = {"gevent": (5000, 0.2), "eventlet": (5000, 0.2), "threads": (10_000, 0.5)}
SHORT_BOUND = 0.10


@needs_redis
@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", BACKENDS)
def test_soak_short(
    backend: str,
    soak_worker: Callable[[str], Worker],
    client: Celery,
    redis_url: str,
) -> None:
    count, warmup = SHORT_SOAK[backend]
    report = soak(client, redis_url, soak_worker(backend), count)
    _print(backend, report, warmup)
    _check(report, warmup, SHORT_BOUND)


@needs_redis
@pytest.mark.long
# 45-60 tasks/s on the loaded 2-core test machine: over an hour; 3600 s cut
# the first run off at 157k.
@pytest.mark.timeout(3 * 3600)
@pytest.mark.parametrize("backend", BACKENDS)
def test_soak_long(
    backend: str,
    soak_worker: Callable[[str], Worker],
    client: Celery,
    redis_url: str,
) -> None:
    """200k tasks through one worker: RSS growth after warm-up (a tenth) under 5 %."""
    report = soak(client, redis_url, soak_worker(backend), 200_000)
    _print(backend, report, 0.1)
    _check(report, 0.1, 0.05)
