"""One fault run, for real: a redis-server, ``celery worker`` subprocesses on
one queue, numbered tasks, a fault, and an exact count of what never ran.

Used by test_celery_faults.py, and run alone for the figures of docs/celery.md::

    python -m tests.contrib._faults kill --pool greenabc --backend gevent
    python -m tests.contrib._faults restart --pool celery --backend gevent

Each task appends its number to its worker's record file when it ends
(celery_app_faults.py), so a number missing from every file is a task that
never finished (lost), and a number found twice ran twice (a duplicate:
at-least-once delivery allows it). Every process is stopped by its pid
whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
from celery import Celery

from greenabc.testing._redis import RedisServer

from ._celery_worker import Worker

QUEUE = "faults"
APP = "celery_app_faults"


@dataclasses.dataclass(frozen=True)
class Case:
    """What to run: *fault* is ``kill`` (SIGKILL one worker), ``restart``
    (stop the broker, start it again *down* s later), ``down`` (the same,
    measuring the workers' CPU while the broker is down, then sending as
    many tasks again once it is back) or ``none``."""

    fault: str
    backend: str
    pool: str = "greenabc"  # or "celery": Celery's own -P gevent/eventlet/threads
    workers: int = 2
    concurrency: int = 100
    tasks: int = 400
    seconds: float = 0.05  # each task's sleep
    fault_at: float = 1.0  # after the first task was sent
    down: float = 3.0  # the broker's time down (restart)
    finish: float = 120.0  # seconds after the fault for every task to finish
    settle: float = 10.0  # then this long for late copies, so duplicates are all counted
    sweep: bool = False  # Celery's own pool with greenabc's RestoreUnacked step added


@dataclasses.dataclass
class Outcome:
    case: Case
    lost: int  # tasks that never finished
    lost_ids: list[str]  # their Celery ids, to look for in the logs
    left: dict[str, int]  # what the broker still holds at the end: queue, unacked
    duplicates: int  # runs beyond the first, over all tasks
    finished_after: float | None  # s from the fault to the last task's first run
    exited: list[str]  # workers (not the killed one) that exited by themselves
    cpu_down: float | None  # down: the busiest worker's CPU share (of one core) while down
    logs: dict[str, str]

    def line(self) -> str:
        c = self.case
        pool = f"{c.pool}+sweep" if c.sweep else c.pool
        done = "-" if self.finished_after is None else f"{self.finished_after:.1f} s"
        cpu = "" if self.cpu_down is None else f", CPU while down {self.cpu_down:.1%}"
        return (
            f"{c.fault:8} {pool:8} {c.backend:8} {c.workers} x -c {c.concurrency},"
            f" {c.tasks} tasks of {c.seconds:g} s: lost {self.lost}, ran twice or more"
            f" {self.duplicates}, all done {done} after the fault, workers exited"
            f" {len(self.exited)}{cpu}"
        )


def start_workers(url: str, directory: Path, case: Case, count: int | None = None) -> list[Worker]:
    args: tuple[str, ...] = ("-Q", QUEUE)
    if case.pool == "celery":
        args += ("-P", case.backend)  # the last -P wins over the harness's -P custom
    workers = []
    try:
        for n in range(case.workers if count is None else count):
            record = directory / f"record-{n}-{time.monotonic_ns()}"
            workers.append(
                Worker(
                    url,
                    case.backend,
                    directory,
                    case.concurrency,
                    args,
                    {
                        "GREENABC_FAULTS_RECORD": str(record),
                        "GREENABC_FAULTS_SWEEP": "1" if case.sweep else "",
                    },
                    app=APP,
                )
            )
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        for worker in workers:
            worker.stop(5)
        raise
    return workers


def runs(directory: Path) -> Counter[int]:
    """How many times each task number ran, over every record file."""
    counts: Counter[int] = Counter()
    for path in directory.glob("record-*[0-9]"):
        for line in path.read_text().splitlines():
            if line.strip():
                counts[int(line)] += 1
    return counts


def send(url: str, numbers: range, seconds: float) -> dict[int, str]:
    """Send one ``f.mark`` per number; their Celery ids by number."""
    app = Celery("greenabc_faults_client", broker=url)
    app.conf.broker_connection_retry_on_startup = True
    ids = {}
    try:
        with app.producer_or_acquire() as producer:
            for number in numbers:
                result = app.send_task("f.mark", (number, seconds), queue=QUEUE, producer=producer)
                ids[number] = result.id
    finally:
        app.close()
    return ids


def broker_left(url: str, lost_ids: list[str]) -> dict[str, int]:
    """What the broker still holds: messages queued and unacked, and how
    many of *lost_ids* are among them."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        queued = [m.decode() for m in client.lrange(QUEUE, 0, -1)]
        unacked = [m.decode() for m in client.hvals("unacked")]
    except redis.RedisError:
        return {}
    finally:
        client.close()
    return {
        "queued": len(queued),
        "unacked": len(unacked),
        "lost queued": sum(any(i in m for m in queued) for i in lost_ids),
        "lost unacked": sum(any(i in m for m in unacked) for i in lost_ids),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of *pid* and its children so far."""
    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


@contextlib.contextmanager
def broker(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory, appendonly=True)
    with server:
        yield server


def run(case: Case, directory: Path) -> Outcome:
    """Run *case* in *directory*; every process is stopped on the way out."""
    with broker(directory) as server:
        workers = start_workers(server.url, directory, case)
        try:
            return _run(case, directory, server, workers)
        finally:
            for worker in workers:
                worker.stop(10)


def _run(case: Case, directory: Path, server: RedisServer, workers: list[Worker]) -> Outcome:
    started = time.monotonic()
    ids = send(server.url, range(case.tasks), case.seconds)
    time.sleep(max(started + case.fault_at - time.monotonic(), 0.0))
    killed: Worker | None = None
    cpu_down = None
    fault_at = time.monotonic()
    if case.fault == "kill":
        killed = workers[0]
        killed.process.kill()
        killed.process.wait(10)
    elif case.fault == "restart":
        server.restart(down=case.down)
    elif case.fault == "down":
        cpu_down = down_and_back(server, workers, case.down)
        ids.update(send(server.url, range(case.tasks, 2 * case.tasks), case.seconds))
    deadline = fault_at + case.finish
    finished_after = None
    while time.monotonic() < deadline:
        if len(runs(directory)) == len(ids):
            finished_after = time.monotonic() - fault_at
            break
        time.sleep(0.2)
    # Let the restored copies of tasks already run come back too: duplicates
    # are counted over a visibility timeout and a sweep after the last one.
    if finished_after is not None:
        time.sleep(min(case.settle, max(deadline - time.monotonic(), 0.0)))
    counts = runs(directory)
    lost_ids = [task_id for n, task_id in ids.items() if n not in counts]
    left = broker_left(server.url, lost_ids)
    exited = [w.hostname for w in workers if w is not killed and w.process.poll() is not None]
    return Outcome(
        case,
        lost=len(lost_ids),
        lost_ids=lost_ids,
        left=left,
        duplicates=sum(c - 1 for c in counts.values()),
        finished_after=finished_after,
        exited=exited,
        cpu_down=cpu_down,
        logs={w.hostname: w.log() for w in workers},
    )


def down_and_back(server: RedisServer, workers: list[Worker], down: float) -> float:
    """Stop the broker for *down* s, then start it again; the busiest
    worker's CPU share (of one core) over the last *down* - 1 s (the first
    second is the workers' tasks finishing and their first reconnect)."""
    server.stop()
    time.sleep(1.0)
    before = {w: cpu_seconds(w.process.pid) for w in workers if w.process.poll() is None}
    started = time.monotonic()
    time.sleep(max(down - 1.0, 0.0))
    elapsed = time.monotonic() - started
    shares = [
        (cpu_seconds(w.process.pid) - cpu) / elapsed
        for w, cpu in before.items()
        if w.process.poll() is None
    ]
    server.start()
    return max(shares, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fault", choices=["kill", "restart", "down", "none"])
    parser.add_argument("--backend", default="gevent")
    parser.add_argument("--pool", choices=["greenabc", "celery"], default="greenabc")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=0.05)
    parser.add_argument("--fault-at", type=float, default=1.0)
    parser.add_argument("--down", type=float, default=3.0)
    parser.add_argument("--finish", type=float, default=120.0)
    parser.add_argument(
        "--sweep", action="store_true", help="add greenabc's RestoreUnacked to Celery's own pool"
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    ns = parser.parse_args()
    case = Case(
        ns.fault,
        ns.backend,
        ns.pool,
        ns.workers,
        ns.concurrency,
        ns.tasks,
        ns.seconds,
        ns.fault_at,
        ns.down,
        ns.finish,
        sweep=ns.sweep,
    )
    for _ in range(ns.runs):
        directory = Path(tempfile.mkdtemp(prefix="greenabc-faults-"))
        outcome = run(case, directory)
        print(outcome.line(), flush=True)
        print(f"  broker holds: {outcome.left}", flush=True)
        for task_id in outcome.lost_ids[:20]:
            print(f"  lost: {task_id}", flush=True)
        for name in outcome.exited:
            print(f"  {name} exited; its log: {directory}", flush=True)
        if not ns.keep and not outcome.exited and not outcome.lost:
            shutil.rmtree(directory)
        else:
            print(f"  logs in {directory}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::celery.platforms.SecurityWarning")
    main()
