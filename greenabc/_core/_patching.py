"""Patching through greenabc, and blocking detection: the orchestration
(which engine is patched is ``_detect``'s to say)."""

from __future__ import annotations

import os

from ..interfaces import Cancellable
from . import _early_imports
from ._detect import current_backend, mark_patched
from ._early_imports import PATCHABLE_MODULES
from ._exceptions import PatchError
from ._registry import ENV_BACKEND, get_backend


def patch(name: str | None = None, **options: bool) -> list[str]:
    """Patch the standard library for *name* (default ``$GREENABC_BACKEND``).

    Call it first, before other imports. Options are stdlib module names
    (``patch("gevent", ssl=False)``). Idempotent for the same backend; a
    second, different engine raises ``PatchError``. Returns the stdlib module
    names that are patched. Warns with ``PatchWarning`` once for each module
    that was imported too early (see ``check_patching``); with
    ``$GREENABC_BLOCKING_THRESHOLD`` set, starts blocking detection.
    """
    unknown = sorted(set(options) - PATCHABLE_MODULES)
    if unknown:
        raise ValueError(
            f"unknown patch options {unknown}: options are standard-library module"
            f" names, one of {sorted(PATCHABLE_MODULES)}"
        )
    if name is None:
        name = os.environ.get(ENV_BACKEND)
        if not name:
            raise PatchError(f"name the backend to patch, or set ${ENV_BACKEND}")
    already = current_backend()
    if already is not None and already != name:
        raise PatchError(
            f"cannot patch {name!r}: {already!r} is already patched, and two engines"
            " cannot be patched in one process"
        )
    backend = get_backend(name)
    if backend.patcher is None:
        return []  # nothing to patch for this backend (threads)
    _early_imports.take_snapshot()
    patched = backend.patcher.patch(**options)
    mark_patched(name)
    _early_imports.warn_findings(_early_imports.check_patching())
    threshold = os.environ.get(ENV_BLOCKING)
    if threshold:
        _start_blocking_from_env(backend.name, threshold)
    return patched


ENV_BLOCKING = "GREENABC_BLOCKING_THRESHOLD"
_blocking_detectors: dict[str, Cancellable] = {}


def _start_blocking_from_env(name: str, value: str) -> None:
    try:
        seconds = float(value)
    except ValueError:
        raise PatchError(f"${ENV_BLOCKING} must be a number of seconds, got {value!r}") from None
    detect_blocking(seconds, backend=name)


def detect_blocking(threshold: float, *, backend: str | None = None) -> Cancellable:
    """Report every time the hub is blocked for more than *threshold* seconds:
    one record on the logger ``greenabc.blocking`` (how long, and the stack of
    the code that blocked) and the signal ``greenabc.signals.hub_blocked``.
    Returns a handle whose ``cancel()`` stops it. One detector per backend: a
    new call replaces the one before. Raises ``GreenabcError`` on a backend
    that cannot detect blocking (``threads``)."""
    chosen = get_backend(backend)
    previous = _blocking_detectors.pop(chosen.name, None)
    if previous is not None:
        previous.cancel()
    handle = chosen.detect_blocking(threshold)
    _blocking_detectors[chosen.name] = handle
    return handle
