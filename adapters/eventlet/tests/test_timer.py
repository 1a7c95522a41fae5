"""The core's Timer on the hub's schedule_call_global (what every Timer and
timeout scope does is the conformance kit's, in test_timer.py and
test_timeout.py)."""

from __future__ import annotations

import random
import time

import eventlet
from eventlet.hubs import get_hub
from greenlet import getcurrent

from greenabc_eventlet._backend import EventletBackend


def test_one_hub_timer_for_the_earliest_entry_run_in_the_hub(backend: EventletBackend) -> None:
    timer = backend.create_timer()
    hub = get_hub()
    ran_in: set[object] = set()
    order = random.sample(range(300), 300)  # deadlines 0.5 ms apart, shuffled
    base = time.monotonic() + 0.1  # none is past before all are scheduled
    before = hub.get_timers_count()
    for n in order:
        timer.call_at(base + n * 0.0005, lambda: ran_in.add(getcurrent()))
    # The backend keeps one deadline structure: at most one hub timer for its
    # earliest entry (plus the few replaced when an earlier one came), not
    # one per entry.
    assert hub.get_timers_count() - before < len(order) // 10
    eventlet.sleep(0.4)
    assert timer.queue == []
    assert ran_in == {hub.greenlet}  # in the hub, not a green thread each
    timer.stop()
