"""Carrying an OS-thread call's outcome back to the engine, for adapters
whose ``to_thread`` hands calls to a thread pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def boxed(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call ``fn(*args, **kwargs)`` in an OS-thread pool's worker and box its outcome: any
    ``BaseException`` is carried back (a pool would let ``SystemExit`` or an
    interrupt kill its worker and strand the caller). See :func:`unboxed`."""
    try:
        return True, fn(*args, **kwargs)
    except BaseException as exc:
        return False, exc


def unboxed(outcome: tuple[bool, Any]) -> Any:
    """The value :func:`boxed` carried back, or its exception raised."""
    if outcome[0]:
        return outcome[1]
    raise outcome[1]
