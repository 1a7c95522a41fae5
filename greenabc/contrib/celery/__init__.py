"""A Celery worker pool on greenabc: gevent, eventlet and threads alike.

::

    CELERY_CUSTOM_WORKER_POOL=greenabc.contrib.celery:TaskPool \\
      python -m greenabc run --backend gevent -m celery -A proj worker -P custom -c 500

The backend is ``greenabc.get_backend()``: ``$GREENABC_BACKEND``, else the
engine ``python -m greenabc run --backend NAME`` patched, else ``threads``.
Over Celery's own ``-P gevent`` / ``-P eventlet`` it adds, on every backend:

* hard and soft time limits (``TimeLimitExceeded`` on time, the task stopped;
  Celery's own ``SoftTimeLimitExceeded`` raised inside the task);
* a decided outcome is final: a task that outlives its time limit or its
  revoke (it catches ``BaseException``) cannot store a late result over it;
* ``revoke(terminate=True)`` ends the task REVOKED, with no success event;
* a bounded warm shutdown: running tasks get
  ``$GREENABC_CELERY_SHUTDOWN_TIMEOUT`` seconds (default 10), the rest are
  stopped and reported failed with ``WorkerLostError``;
* late-acked messages of a worker that died come back on gevent and
  eventlet too (``RestoreUnacked``), and a broker restart loses none and
  stops no worker (``_broker_loss``'s fixes to kombu's Redis transport);
* ``--autoscale`` / ``pool_grow`` / ``pool_shrink`` through ``Pool.resize``,
  ``celery inspect stats`` with greenabc's counters, and the worker's Timer
  (ETA tasks, heartbeats) on greenabc's timers.

One job per module: ``_pool`` (the ``TaskPool``), ``_timer`` (the ``Timer``),
``_late_writes`` (the guard that drops a decided task's late result
writes, installed on the worker's app only) and ``_banner`` (the worker's
banner says ``(greenabc BACKEND)``). Only greenabc's public API is
used here; the core never imports Celery. See ``docs/celery.md``.
"""

from . import _banner  # noqa: F401  (connects the banner's receiver)
from ._late_writes import GUARDED_METHODS, guard_late_writes
from ._pool import SHUTDOWN_TIMEOUT_ENV, TaskPool
from ._restore import RestoreUnacked
from ._timer import Timer

__all__ = [
    "GUARDED_METHODS",
    "SHUTDOWN_TIMEOUT_ENV",
    "RestoreUnacked",
    "TaskPool",
    "Timer",
    "guard_late_writes",
]

# Named where they are documented: Celery reports the pool as
# "greenabc.contrib.celery:TaskPool" (``celery inspect stats``), as configured.
for _public in (TaskPool, Timer, guard_late_writes, RestoreUnacked):
    _public.__module__ = __name__
del _public
