"""Take a message off its queue and record it unacknowledged in one step.

kombu's Redis transport takes a message with ``BRPOP``, then records it in
its ``unacked`` hash with a second command (``QoS.append``). Between the
two the message is only in the worker: in its memory, or in a reply Redis
sent but the worker never read. A worker SIGKILLed then, or a broker
stopped then, loses it (measured: up to one message per worker per fault).

Here a Lua script pops the first message of the same keys in the same order
as ``BRPOP`` and writes the same ``unacked`` record (``[message, exchange,
routing_key]`` under its delivery tag, indexed by time) in one atomic step,
before it answers: a reply that never arrives leaves a record that the
visibility-timeout sweep gives back. ``QoS.append`` then finds the record
made and sends nothing, so a message costs one round trip where kombu's
costs two (``BRPOP``, then ``MULTI ZADD HSET EXEC``).

A script cannot block. When it finds nothing, the worker waits for the
first key (the head queue's list of unprioritised messages, where every
message without a priority goes) to fill with ``BLMOVE key key LEFT LEFT``,
which moves nothing, with the script pipelined right behind it: Redis runs
the fetch as the wait ends, and both replies come back together. A message on another key
(a priority step, a second queue) is found within ``greenabc_fetch_wait``
seconds (a transport option, default ``WAIT_STEP``); with one key, the wait
is ``brpop_timeout``, as kombu's.

Installed once per worker process by greenabc's pool. The transport option
``greenabc_atomic_fetch: False`` keeps kombu's ``BRPOP``, and so does a
server that refuses the script or ``BLMOVE`` (Redis before 6.2), with a
warning.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from queue import Empty
from time import monotonic, time
from typing import Any

__all__ = ["FETCH_SCRIPT", "WAIT_STEP", "patch_fetch"]

logger = logging.getLogger("greenabc.celery")

#: Seconds an idle worker waits on its first key before it looks at the
#: others again (when it takes from more than one key).
WAIT_STEP = 0.1

#: KEYS: the queue keys in BRPOP's order, then the unacked hash and its
#: index. ARGV: how many queue keys, the time to index the record at.
#: Returns {key's 1-based index, message, 1 if recorded, 1 if any key still
#: holds a message} or nil.
FETCH_SCRIPT = """
local count = tonumber(ARGV[1])
for i = 1, count do
  local item = redis.call('RPOP', KEYS[i])
  if item then
    local more = redis.call('LLEN', KEYS[i]) > 0
      or redis.call('EXISTS', unpack(KEYS, 1, count)) > 0
    local made = 0
    local ok, message = pcall(cjson.decode, item)
    local properties = ok and type(message) == 'table' and message['properties']
    if type(properties) == 'table' then
      local info = properties['delivery_info']
      local tag = properties['delivery_tag']
      if type(info) == 'table' and type(tag) == 'string' then
        redis.call('ZADD', KEYS[count + 2], ARGV[2], tag)
        redis.call('HSET', KEYS[count + 1], tag, '[' .. item .. ','
          .. cjson.encode(info['exchange']) .. ','
          .. cjson.encode(info['routing_key']) .. ']')
        made = 1
      end
    end
    return {i, item, made, more and 1 or 0}
  end
end
return false
"""

_SHA = hashlib.sha1(FETCH_SCRIPT.encode(), usedforsecurity=False).hexdigest()  # Redis's name
_FETCH, _WAIT = "fetch", "wait"


def patch_fetch() -> None:
    """Replace kombu's Redis ``Channel._brpop_start`` / ``_brpop_read`` and
    wrap ``QoS.append`` (once per process; see the module's docstring)."""
    from kombu.transport import redis, virtual
    from kombu.utils.encoding import bytes_to_str
    from kombu.utils.json import loads

    try:
        from redis.exceptions import NoScriptError, ResponseError
    except ImportError:  # no redis-py: the Redis transport cannot be used
        return
    text: Callable[[bytes], str] = bytes_to_str
    decode: Callable[[str], Any] = loads
    start: Callable[..., None] = redis.Channel._brpop_start
    if getattr(start, "greenabc_atomic", False):
        return
    read: Callable[..., bool] = redis.Channel._brpop_read
    append: Callable[..., None] = redis.QoS.append
    keep: Callable[..., None] = virtual.QoS.append  # the bookkeeping in memory

    @functools.wraps(start)
    def fetch_start(channel: Any, timeout: float | None = None) -> None:
        if not _atomic(channel):
            return start(channel, timeout)
        if timeout is None:
            timeout = channel.brpop_timeout
        queues = channel._queue_cycle.consume(len(channel.active_queues))
        if not queues:
            return None
        steps = channel.priority_steps
        keys = [channel._q_for_pri(queue, pri) for pri in steps for queue in queues]
        prefix = channel.global_keyprefix or ""
        connection = channel.client.connection
        if not channel.__dict__.get("_greenabc_loaded"):
            # Before _in_poll is set: a failure here leaves nothing pending.
            channel.client.script_load(FETCH_SCRIPT)  # else a first NOSCRIPT round trip
            channel._greenabc_loaded = True
        channel._in_poll = connection
        channel._brpop_sent_at = monotonic()
        fetch = (
            *("EVALSHA", _SHA, len(keys) + 2),
            *(prefix + key for key in keys),
            *(prefix + channel.unacked_key, prefix + channel.unacked_index_key),
            *(len(keys), repr(time())),
        )
        if not channel.__dict__.get("_greenabc_found_nothing"):
            channel._greenabc_pending = (_FETCH, keys)
            connection.send_command(*fetch)
            return None
        # Found nothing last time: wait for the first key, and fetch right
        # behind the wait, in one write (Redis runs the fetch as the wait
        # ends: one round trip, as BRPOP's).
        wait = timeout if len(keys) == 1 else min(timeout or WAIT_STEP, _wait_step(channel))
        head = prefix + keys[0]
        channel._greenabc_pending = (_WAIT, keys)
        connection.send_packed_command(
            connection.pack_commands([("BLMOVE", head, head, "LEFT", "LEFT", wait), fetch])
        )
        return None

    @functools.wraps(read)
    def fetch_read(channel: Any, **options: Any) -> bool:
        pending = channel.__dict__.pop("_greenabc_pending", None)
        if pending is None:
            return read(channel, **options)  # a BRPOP of kombu's is pending
        kind, keys = pending
        client = channel.client
        try:
            try:
                refused = None
                if kind == _WAIT:
                    try:
                        client.parse_response(client.connection, "BLMOVE", **options)
                    except ResponseError as error:  # the fetch behind it still answers
                        refused = error
                reply = client.parse_response(client.connection, "EVALSHA", **options)
            except channel.connection_errors:
                client.connection.disconnect()  # reconnect at the next start
                raise
            except NoScriptError:  # the first use on this server, or it restarted
                client.script_load(FETCH_SCRIPT)
                raise Empty() from None
            except ResponseError as error:
                _fall_back(channel, error)
                raise Empty() from None
            if refused is not None:
                _fall_back(channel, refused)
            if not reply:
                channel._greenabc_found_nothing = True
                raise Empty()
            index, item, made, more = reply
            # The last message: the next look waits, with the fetch behind it
            # (an empty look first would cost a round trip of its own).
            channel._greenabc_found_nothing = not int(more)
            dest = keys[int(index) - 1].rsplit(channel.sep, 1)[0]
            channel._queue_cycle.rotate(dest)
            message = decode(text(item))
            if not int(made):
                channel.connection._deliver(message, dest)
                return True
            tag = message["properties"]["delivery_tag"]
            recorded: set[Any] = channel.__dict__.setdefault("_greenabc_recorded", set())
            recorded.add(tag)
            try:
                channel.connection._deliver(message, dest)
            finally:
                if tag in recorded:  # a consumer without acks: no record, as kombu's
                    recorded.discard(tag)
                    channel.qos._remove_from_indices(tag).execute()
            return True
        finally:
            channel._in_poll = None
            flush = getattr(channel, "_flush_brpop_reauth", None)
            if flush is not None:
                flush()

    @functools.wraps(append)
    def append_unless_recorded(qos: Any, message: Any, delivery_tag: Any) -> None:
        recorded: set[Any] | None = qos.channel.__dict__.get("_greenabc_recorded")
        if recorded and delivery_tag in recorded:
            recorded.discard(delivery_tag)
            keep(qos, message, delivery_tag)
            return
        append(qos, message, delivery_tag)

    fetch_start.greenabc_atomic = True  # type: ignore[attr-defined]
    redis.Channel._brpop_start = fetch_start  # type: ignore[method-assign]
    redis.Channel._brpop_read = fetch_read  # type: ignore[method-assign,assignment]
    redis.QoS.append = append_unless_recorded  # type: ignore[method-assign]


def _atomic(channel: Any) -> bool:
    state = channel.__dict__.get("_greenabc_atomic")
    if state is None:
        options = channel.connection.client.transport_options
        state = bool(options.get("greenabc_atomic_fetch", True))
        channel._greenabc_atomic = state
    return bool(state)


def _wait_step(channel: Any) -> float:
    options = channel.connection.client.transport_options
    try:
        step = float(options.get("greenabc_fetch_wait", WAIT_STEP))
    except (TypeError, ValueError):
        return WAIT_STEP
    return step if step > 0 else WAIT_STEP


def _fall_back(channel: Any, error: Exception) -> None:
    channel._greenabc_atomic = False
    logger.warning(
        "greenabc: the broker refused the atomic fetch (%s): taking messages with"
        " kombu's BRPOP, where a message in flight at a fault can be lost (Redis >= 6.2"
        " with scripting is needed)",
        error,
    )
