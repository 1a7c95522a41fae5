"""Which green engine is patched, however the patching was done.

Neither gevent nor eventlet can see the other's patching; greenabc looks at
both engines' own records (without importing either). Detection only: the
registry asks it for the default backend, and ``_patching`` (which loads
backends through the registry) records what it patched here.
"""

from __future__ import annotations

import sys

_patched: list[str] = []  # once an engine has patched, it stays patched


def _detect() -> str | None:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and getattr(monkey, "saved", None):
        return "gevent"
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and getattr(patcher, "already_patched", None):
        return "eventlet"
    return None


def current_backend() -> str | None:
    """``"gevent"``, ``"eventlet"`` or None: the green engine that is patched,
    however it was patched. Cheap: two dict look-ups until one is found."""
    if not _patched:
        found = _detect()
        if found is None:
            return None
        _patched.append(found)
    return _patched[0]


def mark_patched(name: str) -> None:
    """Record that greenabc has patched the backend *name*."""
    _patched[:] = [name]
