"""Signals sent by every backend (``.connect(receiver)``; receivers get the
pool as sender). Built on blinker: receivers are held weakly by default, so
pass ``weak=False`` for a lambda or a local function."""

from __future__ import annotations

from blinker import Signal

__all__ = [
    "hub_blocked",
    "pool_apply",
    "pool_postshutdown",
    "pool_preshutdown",
    "pool_started",
    "task_unresponsive",
]

#: A pool was created. ``receiver(pool)``.
pool_started = Signal("pool_started")
#: A task was accepted. ``receiver(pool, task=task)``.
pool_apply = Signal("pool_apply")
#: ``close()`` began: the pool accepts no more work. ``receiver(pool)``.
pool_preshutdown = Signal("pool_preshutdown")
#: ``close()`` ended: the workers are stopped. ``receiver(pool)``.
pool_postshutdown = Signal("pool_postshutdown")
#: A task still runs long after it was killed or timed out (it ignores its
#: interrupts). ``receiver(pool, task=task, seconds=...)``: seconds since then.
task_unresponsive = Signal("task_unresponsive")
#: The hub was blocked. ``receiver(backend_name, seconds=..., stack=...)``.
hub_blocked = Signal("hub_blocked")
