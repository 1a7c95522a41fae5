"""The Celery app of the fault tests (test_celery_faults.py): at-least-once.

``-A celery_app_faults``. Late acks, a task whose worker died is given back
(``task_reject_on_worker_lost``), and kombu's Redis transport gives back
what a dead worker had taken once its visibility timeout is over (8 s here:
the tasks are short). Broker: ``$GREENABC_TEST_REDIS_URL``; no result backend.

Each run of ``f.mark`` appends its number to ``$GREENABC_FAULTS_RECORD``
(one file per worker, one line per run, ``O_APPEND``): written to a file,
not to Redis, so a task that runs while the broker is down is still counted.
"""

from __future__ import annotations

import os
import time

from celery import Celery

url = os.environ["GREENABC_TEST_REDIS_URL"]
app = Celery("greenabc_faults", broker=url)
app.conf.update(
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=None,  # a broker down for long: retry forever
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    broker_transport_options={
        "visibility_timeout": 8,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
        # A green worker acks from each task's green thread (call_soon_ack),
        # up to -c at once, each on a connection of kombu's Redis pool: its
        # default of 10 fails the rest ("Couldn't ack ... MaxConnectionsError").
        "max_connections": 256,
        # greenabc's pool takes messages atomically; 0 compares with kombu's BRPOP.
        "greenabc_atomic_fetch": os.environ.get("GREENABC_TEST_ATOMIC_FETCH", "1") != "0",
    },
    worker_hijack_root_logger=True,
)

if os.environ.get("GREENABC_FAULTS_SWEEP"):
    # Celery's own green pools with greenabc's sweep step (greenabc's pool adds it itself).
    from greenabc.contrib.celery import RestoreUnacked

    app.steps["consumer"].add(RestoreUnacked)

_record = os.open(
    os.environ.get("GREENABC_FAULTS_RECORD", os.devnull),
    os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    0o644,
)


@app.task(name="f.mark")
def mark(number: int, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.05))  # short steps, as in celery_app's t.sleep
    os.write(_record, f"{number}\n".encode())
