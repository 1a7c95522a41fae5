"""An unpatched ``selectors.DefaultSelector`` for the loop's own OS thread.

gevent and eventlet replace ``select`` and ``selectors`` with versions that
wait in the calling thread's hub. The loop thread runs no hub, so the loop
gets the standard library's epoll (or poll) selector, loaded afresh from the
standard library with the original ``select`` extension module.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import selectors
import sys
from types import ModuleType
from typing import Any

_cached: type[selectors.BaseSelector] | None = None


def _fresh(name: str, **inject: ModuleType) -> ModuleType | None:
    """A new copy of the standard-library module *name*, imported with
    *inject* in place of the modules of those names; None if it is built in
    (then it cannot be loaded twice)."""
    spec = importlib.machinery.PathFinder.find_spec(name)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    saved: dict[str, Any] = {key: sys.modules.get(key) for key in inject}
    sys.modules.update(inject)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module


def unpatched_selector() -> selectors.BaseSelector:
    """A new selector that waits in C, whatever was patched; the current
    ``selectors.DefaultSelector`` if ``select`` is built into the
    interpreter (then it waits in the engine's hub of the loop thread)."""
    global _cached
    if _cached is None:
        select = _fresh("select")
        copy = _fresh("selectors", select=select) if select is not None else None
        _cached = selectors.DefaultSelector if copy is None else copy.DefaultSelector
    return _cached()
