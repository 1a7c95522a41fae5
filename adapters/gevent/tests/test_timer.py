"""The core's Timer on the hub's loop timers (what every Timer does is the
conformance kit's, in test_timer.py)."""

from __future__ import annotations

import gc

import gevent
import greenlet

from greenabc.adapter import EngineBackend


def test_callbacks_run_in_the_hub_with_no_greenlet_per_entry(backend: EngineBackend) -> None:
    timer = backend.create_timer()
    ran_in: list[object] = []
    before = _greenlets()
    for _ in range(100):
        timer.call_after(0.01, lambda: ran_in.append(greenlet.getcurrent()))
    assert _greenlets() == before  # a spawn_later per entry would show here
    gevent.sleep(0.05)
    assert ran_in == [gevent.get_hub()] * 100


def _greenlets() -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet.greenlet))
