"""Work that completed inside a timeout scope is never thrown away.

A scope raises only when its interrupt reached the block; greenabc's own
blocking calls lose nothing when interrupted (an interrupted ``get()`` takes
no item, an interrupted ``put()`` enqueues all or nothing). On threads an
interrupt can still land just after ``get()`` returned, before the caller
stored the item (docs/reliability.md): a window of a few bytecodes, which
this run does not hit in practice.
"""

from __future__ import annotations

import queue
import random
import threading

import greenabc

from ._helpers import PROMPT

ITEMS = 20_000
CONSUMERS = 30


def test_scoped_gets_lose_no_item(greenabc_backend: greenabc.Backend) -> None:
    q = greenabc_backend.Queue()
    received: list[int] = []
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            try:
                with greenabc_backend.timeout(random.uniform(0.0005, 0.002)):
                    item = q.get(timeout=0.01)  # threads: a wait in C is not interrupted
            except (greenabc.TimeoutExpired, queue.Empty):
                continue
            received.append(item)

    with greenabc_backend.create_pool(CONSUMERS + 1) as pool:
        for _ in range(CONSUMERS):
            pool.spawn(consume)
        for i in range(ITEMS):
            q.put(i)
            if i % 50 == 0:
                greenabc_backend.sleep(0.001)  # let timeouts fire mid-stream
        while q.qsize() and len(received) < ITEMS:
            greenabc_backend.sleep(0.01)
        stop.set()
        assert pool.join(PROMPT * 5)
    left = []
    while q.qsize():
        left.append(q.get_nowait())
    assert sorted(received + left) == list(range(ITEMS)), (
        f"{ITEMS - len(received) - len(left)} items lost"
    )
