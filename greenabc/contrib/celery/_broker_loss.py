"""Two fixes to kombu's Redis transport, for a broker that goes away.

Both are installed once per worker process by greenabc's pool (its app's
``_restore.install``), by wrapping a method of kombu's classes.

* A message taken and dropped. kombu takes a message off its queue
  (``BRPOP``), then records it as unacknowledged with a second command
  (``QoS.append``). When the broker goes away between the two, the record
  fails and the message, in this process only, is dropped: it exists
  nowhere any more, on every pool. The wrapped ``append`` keeps such a
  message and pushes it back onto its queue once the broker answers again.
* A worker that exits while it reconnects (``'NoneType' object has no
  attribute 'hostname'``). When the connection is lost while a ``BRPOP`` is
  pending (the event loop's worker: threads), the consumer first collects
  the connection: ``Channel.close`` reads the pending ``BRPOP``'s reply,
  which raises, before it closes anything; then the connection's transport
  is closed (its ``client`` is None); then the consumer closes the
  connection, the channel again, and this time kombu gives its unacked
  messages back over a new client pool, built from the transport's
  ``client``: an ``AttributeError`` no handler expects, and the worker
  exits ("Unrecoverable error"). The wrapped ``close`` finishes the close
  at once when that read fails, while the transport is still whole.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

import greenabc

__all__ = ["PUT_BACK_EVERY", "patch_redis_transport"]

logger = logging.getLogger("greenabc.celery")

PUT_BACK_EVERY = 1.0  # seconds between tries to put a dropped message back


def patch_redis_transport() -> None:
    """Wrap kombu's Redis ``QoS.append`` and ``Channel.close`` (once per
    process; see the module's docstring)."""
    from kombu.transport import redis

    append: Callable[..., None] = redis.QoS.append
    if getattr(append, "greenabc_puts_back", False):
        return
    close: Callable[[Any], None] = redis.Channel.close

    @functools.wraps(append)
    def append_or_put_back(qos: Any, message: Any, delivery_tag: Any) -> None:
        try:
            append(qos, message, delivery_tag)
        except qos.channel.connection_errors:
            # A connection of its own: the channel's is closed by the
            # consumer's reconnect, its transport with it.
            greenabc.spawn(_put_back, qos.channel.connection.client.clone(), message)
            raise

    @functools.wraps(close)
    def close_at_once(channel: Any) -> None:
        try:
            close(channel)
        except channel.connection_errors:
            # The pending BRPOP's read failed before anything was closed:
            # close now (the read is no longer pending), then report it.
            with contextlib.suppress(*channel.connection_errors):
                close(channel)
            raise

    append_or_put_back.greenabc_puts_back = True  # type: ignore[attr-defined]
    redis.QoS.append = append_or_put_back  # type: ignore[method-assign]
    redis.Channel.close = close_at_once  # type: ignore[method-assign]


def _put_back(connection: Any, message: Any) -> None:
    """Push *message* back onto its queue over *connection* (a kombu
    ``Connection``); try again every ``PUT_BACK_EVERY`` seconds while the
    broker is away."""
    delivery = message.delivery_info
    label = message.properties.get("correlation_id") or message.delivery_tag
    logger.warning(
        "greenabc: message %s was taken from the broker as the connection dropped:"
        " putting it back onto its queue",
        label,
    )
    while True:
        try:
            with connection.clone() as fresh:
                channel = fresh.default_channel
                with channel.conn_or_acquire() as client:
                    pipe = client.pipeline()
                    channel._do_restore_message(
                        message._raw, delivery["exchange"], delivery["routing_key"], pipe
                    )
                    pipe.execute()
        except connection.connection_errors:
            greenabc.sleep(PUT_BACK_EVERY)
            continue
        logger.warning("greenabc: message %s is back on its queue", label)
        return
