"""The worker's banner names greenabc and its backend.

Celery renders the pool in its banner from the pool class's module
(``concurrency: 500 (celery)`` for ``greenabc.contrib.celery``), or from
``pool_cls`` as given when that is still a name. Renaming the class's module
would change what ``celery inspect stats`` reports, so only the banner's
rendering sees a name: ``concurrency: 500 (greenabc gevent)``.
"""

from __future__ import annotations

from typing import Any

from celery import signals

import greenabc


def _name_the_pool(sender: Any = None, instance: Any = None, **_: Any) -> None:
    """``celeryd_after_setup``: sent just before the worker prints its banner."""
    from ._pool import TaskPool

    pool_cls = getattr(instance, "pool_cls", None)
    if not (isinstance(pool_cls, type) and issubclass(pool_cls, TaskPool)):
        return
    render = instance.startup_info
    name = f"greenabc {greenabc.get_backend().name}"

    def startup_info(*args: Any, **kwargs: Any) -> Any:
        instance.pool_cls = name  # Celery's banner renders a name as given
        try:
            return render(*args, **kwargs)
        finally:
            instance.pool_cls = pool_cls

    instance.startup_info = startup_info


signals.celeryd_after_setup.connect(_name_the_pool, weak=False, dispatch_uid=__name__)
