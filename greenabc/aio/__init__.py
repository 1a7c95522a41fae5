"""The asyncio bridge: green code and coroutines call each other, on every
backend, with greenabc's rules for cancellation.

* ``greenabc.aio.run(async_fn, *args)``: from synchronous or green code, run a
  coroutine on an event loop and wait for its outcome (only the caller waits);
* ``await greenabc.aio.run_sync(fn, *args)``: from a coroutine, run ``fn`` as
  a greenabc task and await its outcome (the loop never blocks).

An interrupt of ``run``'s caller cancels the coroutine; cancelling the task
that awaits ``run_sync`` kills the green task. Context variables cross both
ways (as copies). See docs/asyncio.md.
"""

from __future__ import annotations

from ._loop import CANCEL_GRACE
from ._to_async import run
from ._to_green import run_sync

__all__ = ["CANCEL_GRACE", "run", "run_sync"]
