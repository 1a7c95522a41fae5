"""The Celery app the worker subprocesses of test_celery.py run (``-A celery_app``).

Broker and result backend: ``$GREENABC_TEST_REDIS_URL``. The test process
sends by name (``app.send_task("t.sleep", ...)``) and never imports this.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded

import greenabc

url = os.environ["GREENABC_TEST_REDIS_URL"]
app = Celery("greenabc_tests", broker=url, backend=url)
app.conf.update(
    broker_connection_retry_on_startup=True,
    task_acks_late=False,
    worker_hijack_root_logger=True,
    result_expires=600,
    # greenabc's pool takes messages atomically; "0" compares with kombu's BRPOP.
    broker_transport_options={
        "greenabc_atomic_fetch": os.environ.get("GREENABC_TEST_ATOMIC_FETCH", "1") != "0"
    },
)
log = logging.getLogger("greenabc.tests")


def _log_signal(name: str) -> Callable[..., None]:
    def receiver(sender: object, **_: object) -> None:
        log.warning("greenabc signal %s from %r", name, sender)

    return receiver


# Held here: blinker holds receivers weakly.
_receivers = {
    name: _log_signal(name) for name in ("pool_started", "pool_preshutdown", "pool_postshutdown")
}
for _name, _receiver in _receivers.items():
    getattr(greenabc.signals, _name).connect(_receiver)


def _touch(path: str | None, text: str = "") -> None:
    if path:
        Path(path).write_text(text)


@app.task(name="t.sleep")
def sleep(seconds: float, started: str | None = None, finished: str | None = None) -> float:
    _touch(started)
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        # Short steps: on threads an interrupt lands when a sleep in C returns.
        time.sleep(min(left, 0.05))
    _touch(finished)
    return seconds


@app.task(name="t.soft")
def soft(seconds: float) -> str:
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.05)  # steps, as in sleep(): threads interrupt between them
    except SoftTimeLimitExceeded:
        return "soft limit caught"
    return "no soft limit"


@app.task(name="t.stubborn")
def stubborn(seconds: float, finished: str) -> str:
    """Catch everything, time limits included, and return late."""
    end = time.monotonic() + seconds
    caught = 0
    while time.monotonic() < end:
        try:
            time.sleep(0.02)
        except BaseException:
            caught += 1
    while True:
        try:
            _touch(finished, str(caught))
            break
        except BaseException:
            pass
    return "late success"


@app.task(name="t.add")
def add(x: int, y: int) -> int:
    return x + y


#: The CPU burst of t.mixed: a pure-Python loop of this many steps (about
#: 2 ms on one core of the 2-CPU test machine), holding the GIL throughout.
CPU_BURST = 30_000
BIG_RESULT = 100_000  # bytes of t.mixed's "big" result


@app.task(name="t.mixed", bind=True)
def mixed(self: Any, kind: str, record: str | None = None) -> object:
    """One task of the scale-out and soak mix: ``sleep`` (10 ms), ``cpu``
    (a burst) or ``big`` (a 100 kB result). With *record*, appends
    "task-id hostname" to that file, so a test counts who ran what, and how
    often (a short append is one write: lines from several workers do not mix)."""
    out: object = None
    if kind == "sleep":
        time.sleep(0.01)
    elif kind == "cpu":
        out = sum(i * i for i in range(CPU_BURST))
    elif kind == "big":
        out = "x" * BIG_RESULT
    else:
        raise ValueError(f"unknown kind {kind!r}")
    if record:
        with open(record, "a") as file:
            file.write(f"{self.request.id} {self.request.hostname}\n")
    return out


# -- test_celery_deploy.py: autoscale ----------------------------------------
# (imported here, not above: this section is added whole)

import redis  # noqa: E402
from celery import signals  # noqa: E402

_workers: list[Any] = []  # the worker of this process, for its pool's size


@signals.worker_init.connect
def _keep_worker(sender: Any, **_: Any) -> None:
    _workers[:] = [sender]


_gauges = redis.Redis.from_url(url)


@app.task(name="t.gauge")
def gauge(seconds: float, key: str) -> list[int]:
    """Count the tasks running at once in Redis. At its start a task pushes
    ``running:size`` to ``KEY:starts``: the count of running tasks (itself
    included) and the pool's size, read after the count (during a burst the
    pool only grows); at its end ``start:end:running`` (wall clock) to
    ``KEY:times``."""
    began = time.time()
    running = int(_gauges.incr(f"{key}:running"))
    try:
        pool = _workers[0].pool if _workers else None
        size = int(pool.num_processes) if pool is not None else -1
        _gauges.rpush(f"{key}:starts", f"{running}:{size}")
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))  # steps: threads interrupt between them
    finally:
        _gauges.rpush(f"{key}:times", f"{began}:{time.time()}:{running}")
        _gauges.decr(f"{key}:running")
    return [running, size]
