"""A decided outcome is final: drop a task's late result writes, on one app.

Celery stores a task's result from inside the task (``celery.app.trace``
calls ``task.backend.mark_as_done``), so a task that catches
``BaseException`` and returns after its hard time limit would otherwise write
SUCCESS over the ``TimeLimitExceeded`` failure the worker already stored.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import greenabc

logger = logging.getLogger("greenabc.celery")

#: The result-backend methods that write a task's state (and, for the
#: ``mark_as_*`` ones, fire chord parts, chains and errbacks). Called from
#: inside a task whose outcome greenabc already decided, they are dropped.
GUARDED_METHODS = ("store_result", "mark_as_done", "mark_as_failure", "mark_as_retry")
_FLAG = "_greenabc_late_write_guard"


def guard_late_writes(app: Any) -> None:
    """Drop the state writes (``GUARDED_METHODS``) that a greenabc task whose
    outcome is already decided (``greenabc.current_task().ready()``: timed
    out, or killed) makes through *app*'s result backends.

    Only *app* is touched, never a Celery class: its backend instances are
    wrapped, the one that exists now, each that *app* creates later (Celery
    keeps one per thread, per green thread once patched, for backends that
    are not thread-safe) and each task's own. Another app in the process
    writes as before. Writes from anywhere else than inside a decided task
    (the worker's own ``on_timeout`` and revoke handling) are untouched.
    Idempotent."""
    if not getattr(app, _FLAG, False):
        create = app._get_backend  # Celery's one factory of an app's backends

        @functools.wraps(create)
        def create_guarded() -> Any:
            return _guard(create())

        # An attribute of this app instance: other apps keep the class's method.
        app._get_backend = create_guarded
        setattr(app, _FLAG, True)
    _guard(app.backend)
    for task in list(app.tasks.values()):
        own = getattr(task, "_backend", None)  # a task-specific backend
        if own is not None:
            _guard(own)


def _guard(backend: Any) -> Any:
    """Wrap *backend*'s state-writing methods, on the instance."""
    for name in GUARDED_METHODS:
        method = getattr(backend, name, None)
        if method is not None and not getattr(method, _FLAG, False):
            setattr(backend, name, _dropped_when_decided(name, method))
    return backend


def _dropped_when_decided(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        task = greenabc.current_task()
        if task is not None and task.ready():
            celery_id = args[0] if args else kwargs.get("task_id")
            logger.warning(
                "greenabc: dropped a late %s for task %s from inside it: its outcome"
                " was already decided (%s)",
                name,
                celery_id,
                task.outcome,
            )
            return None
        return method(*args, **kwargs)

    setattr(guarded, _FLAG, True)
    return guarded
