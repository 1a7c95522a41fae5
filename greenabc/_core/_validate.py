"""Argument checks shared by every backend, with errors that say what to do."""

from __future__ import annotations

import math

_INF = math.inf


def check_size(size: object, what: str = "size") -> int:
    """A positive int (not a bool): the number of tasks a pool runs at once."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"{what} must be an int, got {type(size).__name__}: {size!r}")
    if size < 1:
        raise ValueError(f"{what} must be at least 1, got {size}")
    return size


def check_seconds(seconds: object, what: str = "seconds", *, allow_none: bool = False) -> float:
    """A finite, non-negative number of seconds. *allow_none* only says, in
    the error, that the caller also accepts None (no limit); None itself is
    :func:`check_optional_seconds`'s to let through."""
    if type(seconds) is float and 0.0 <= seconds < _INF:  # the common case, first
        return seconds
    alternative = ", or None for no limit" if allow_none else ""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(
            f"{what} must be a number of seconds{alternative},"
            f" got {type(seconds).__name__}: {seconds!r}"
        )
    if not seconds >= 0 or math.isinf(seconds):  # `not >=` also catches NaN
        raise ValueError(f"{what} must be a finite number >= 0{alternative}, got {seconds!r}")
    return float(seconds)


def check_optional_seconds(seconds: object, what: str = "seconds") -> float | None:
    """``None`` (no limit) or :func:`check_seconds`."""
    if seconds is None or (type(seconds) is float and 0.0 <= seconds < _INF):
        return seconds  # the common cases, without a call: this is on every spawn
    return check_seconds(seconds, what, allow_none=True)
