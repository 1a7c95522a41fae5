"""Celery's own worker pools, driven as the worker drives them: ``start()``,
``apply_async(target, args, kwargs, callback=...)`` per task (with
``timeout=`` for a hard time limit), ``stop()`` (which joins)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from .common import Metrics, Side, noop

# Celery's pool class for each backend (module, class).
CELERY_POOLS = {
    "gevent": "celery.concurrency.gevent",
    "eventlet": "celery.concurrency.eventlet",
    "threads": "celery.concurrency.thread",
}
IGNORES_TIMEOUT = {"eventlet", "threads"}  # Celery's eventlet and threads pools have no time limit


def installed() -> bool:
    try:
        import celery  # noqa: F401
    except ImportError:
        return False
    return True


def pool_side(pool_cls: Callable[..., Any], n: int, size: int, timeout: float | None) -> Side:
    def run() -> Metrics:
        pool = pool_cls(limit=size)
        pool.start()
        done: list[None] = []  # append is atomic: callbacks may run in threads

        def callback(*_: object) -> None:
            done.append(None)

        started = time.perf_counter()
        apply = pool.apply_async
        for _ in range(n):
            apply(noop, (), {}, callback=callback, timeout=timeout)
        # Every callback first: Celery's thread pool cancels what is queued at stop().
        bound = time.monotonic() + 60
        while len(done) < n and time.monotonic() < bound:
            time.sleep(0.0005)
        pool.stop()
        elapsed = time.perf_counter() - started
        assert len(done) == n, (len(done), n)
        return {"us": elapsed / n * 1e6}

    return run


def celery_taskpool(backend: str) -> Callable[..., Any]:
    return importlib.import_module(CELERY_POOLS[backend]).TaskPool  # type: ignore[no-any-return]


def add_to(suite: Any) -> None:
    """Celery's pool as a contender in the apply_async cases."""
    backend, n, size = suite.backend.name, suite.sizes.tasks, suite.size
    if not installed():
        for name in ("apply", "apply_timeout"):
            suite.case(name).notes["celery TaskPool"] = "not installed"
        return
    suite.note_versions("celery", "kombu")
    pool_cls = celery_taskpool(backend)
    for name, timeout in (("apply", None), ("apply_timeout", 10.0)):
        case = suite.case(name)
        side = f"celery {backend} TaskPool"
        case.sides[side] = pool_side(pool_cls, n, size, timeout)
        if timeout and backend in IGNORES_TIMEOUT:
            case.notes[side] = f"Celery's {backend} pool ignores time limits: no timeout was set up"


def greenabc_vs_celery(suite: Any, n: int) -> None:
    """greenabc's Celery pool (greenabc.contrib.celery) against Celery's own."""
    if not installed():
        return
    from greenabc.contrib.celery import TaskPool

    backend, size = suite.backend.name, suite.size
    ours = "greenabc.contrib.celery TaskPool"
    theirs = f"celery {backend} TaskPool"
    for name, timeout in (("celery_pool", None), ("celery_pool_timeout", 10.0)):
        limit = ", time limit 10 s" if timeout else ""
        case = suite.add(
            name,
            f"Celery worker pool: apply_async+callback{limit} ({n:,} tasks, size {size})",
            ours,
            {
                ours: pool_side(TaskPool, n, size, timeout),
                theirs: pool_side(celery_taskpool(backend), n, size, timeout),
            },
            label=f"Celery pool{' +limit' if timeout else ''}",
        )
        if timeout and backend in IGNORES_TIMEOUT:
            case.notes[theirs] = f"Celery's {backend} pool ignores time limits"
