"""Give back what a dead worker took: kombu's sweep of unacknowledged
messages, run on the worker's timer.

With late acks on Redis, a message a worker took stays in kombu's
``unacked`` hash until it is acked; once ``visibility_timeout`` is over, a
sweep (``restore_visible``) puts it back on its queue for another worker.
Only Celery's event loop (``asynloop``) runs that sweep on a timer, every
``unacked_restore_interval`` seconds. A worker whose pool is green (gevent,
eventlet: greenabc's pool on a patched engine, and Celery's own ``-P gevent``
/ ``-P eventlet``) runs the blocking ``synloop`` instead, where kombu sweeps
only when a poll of the broker has nothing to read: while the worker takes
messages its BRPOP replies within ``brpop_timeout`` (1 s), before the poll's
2 s, so the sweep runs only in spells when the prefetch is full (BRPOP
paused), and the messages of a worker killed meanwhile may never come back.

``RestoreUnacked`` is a consumer bootstep that runs the same sweep
(``maybe_restore_messages``, which takes its own Redis connection and a
Redis-side mutex) on the worker's timer, every ``unacked_restore_interval``
seconds, when the worker runs the ``synloop``. greenabc's pool adds it to
the worker's app; Celery's own green pools can use it too::

    app.steps["consumer"].add(RestoreUnacked)

``install`` adds it, the fixes of ``_broker_loss`` for a broker that goes
away, and ``_atomic_fetch`` (a message taken is recorded unacked at once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import bootsteps

from ._atomic_fetch import patch_fetch
from ._broker_loss import patch_redis_transport

__all__ = ["RestoreUnacked", "install"]

logger = logging.getLogger("greenabc.celery")

DEFAULT_INTERVAL = 10.0  # kombu's Channel.unacked_restore_interval


class RestoreUnacked(bootsteps.StartStopStep):  # type: ignore[misc]
    """Run the transport's sweep of unacknowledged messages on the worker's
    timer, when the worker has no event loop to run it (``synloop``)."""

    label = "greenabc restore unacked"
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        self.entry: Any = None
        super().__init__(c, **kwargs)

    def start(self, c: Any) -> None:
        if c.hub is not None:
            return  # asynloop: the transport put the sweep on the hub's timer
        sweep = _sweep_of(c.connection)
        if sweep is None:
            return  # a transport with no such sweep (not Redis)
        interval = _interval(c.connection.transport_options)
        self.entry = c.timer.call_repeatedly(interval, self._sweep, (c,))
        logger.debug("greenabc: sweeping unacked messages every %g s", interval)

    def stop(self, c: Any) -> None:
        entry, self.entry = self.entry, None
        if entry is not None:
            c.timer.cancel(entry)

    def shutdown(self, c: Any) -> None:
        self.stop(c)

    def _sweep(self, c: Any) -> None:
        sweep = _sweep_of(c.connection)  # the current one: the consumer reconnects
        if sweep is None:
            return
        try:
            sweep()  # kombu skips a cycle on a connection error
        except Exception:  # the broker's other errors: try again next time
            logger.debug("greenabc: the sweep of unacked messages failed", exc_info=True)


def _sweep_of(connection: Any) -> Callable[[], object] | None:
    if connection is None:
        return None
    cycle = getattr(connection.transport, "cycle", None)
    sweep: Callable[[], object] | None = getattr(cycle, "maybe_restore_messages", None)
    return sweep


def _interval(options: dict[str, Any]) -> float:
    """kombu's rule (``Transport.register_with_event_loop``): the option, or
    its default when missing or not positive."""
    try:
        interval = float(options.get("unacked_restore_interval", DEFAULT_INTERVAL))
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL
    return interval if interval > 0 else DEFAULT_INTERVAL


def install(app: Any) -> None:
    """Add ``RestoreUnacked`` to *app*'s consumer steps (once), fix what a
    broker going away does to kombu's Redis transport (``_broker_loss``), and
    take messages atomically (``_atomic_fetch``)."""
    app.steps["consumer"].add(RestoreUnacked)
    patch_redis_transport()
    patch_fetch()
