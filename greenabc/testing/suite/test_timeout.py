"""Timeout-scope semantics every backend must have."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

import greenabc

from ._helpers import PROMPT, spin


def test_expiry_raises_timeout_expired_a_timeout_error(greenabc_backend: greenabc.Backend) -> None:
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired) as info, greenabc_backend.timeout(0.05):
        spin(5)
    assert isinstance(info.value, TimeoutError)
    assert 0.045 <= time.monotonic() - started < PROMPT


def test_no_expiry_no_error(greenabc_backend: greenabc.Backend) -> None:
    with greenabc_backend.timeout(1) as scope:
        spin(0.01)
    assert not scope.expired
    time.sleep(0.02)  # a cancelled scope must not fire later


def test_none_means_no_limit(greenabc_backend: greenabc.Backend) -> None:
    with greenabc_backend.timeout(None) as scope:
        spin(0.05)
    assert not scope.expired


def test_starts_on_enter_not_on_creation(greenabc_backend: greenabc.Backend) -> None:
    scope = greenabc_backend.timeout(0.3)  # room for a preempted spin(0.01)
    time.sleep(0.4)
    with scope:
        spin(0.01)
    assert not scope.expired


def test_except_exception_cannot_swallow_it(greenabc_backend: greenabc.Backend) -> None:
    caught: list[BaseException] = []
    with pytest.raises(greenabc.TimeoutExpired), greenabc_backend.timeout(0.05):
        try:
            spin(5)
        except Exception as exc:
            caught.append(exc)
    assert caught == []


def test_a_block_that_swallows_its_interrupt_and_ends_keeps_its_result(
    greenabc_backend: greenabc.Backend,
) -> None:
    # As gevent.Timeout, asyncio.timeout and trio: the scope raises only when
    # its interrupt reaches the scope's exit; a block that caught it and
    # ended normally keeps its result, and `expired` tells it was late.
    result = None
    with greenabc_backend.timeout(0.05) as scope:
        try:
            spin(5)
        except BaseException:
            result = "kept"
    assert result == "kept"
    assert scope.expired


def test_a_swallowed_interrupt_is_sent_again_until_the_block_ends(
    greenabc_backend: greenabc.Backend,
) -> None:
    caught = 0
    started = time.monotonic()
    with pytest.raises(greenabc.TimeoutExpired), greenabc_backend.timeout(0.05):
        while True:
            try:
                spin(5)
            except BaseException:
                caught += 1
                if caught == 3:
                    raise
    assert caught == 3
    assert time.monotonic() - started < 3  # sent again at once, not after spin's 5 s


def test_inner_scope_expiring_is_caught_by_the_inner(greenabc_backend: greenabc.Backend) -> None:
    with greenabc_backend.timeout(5) as outer:
        with pytest.raises(greenabc.TimeoutExpired), greenabc_backend.timeout(0.05) as inner:
            spin(5)
        spin(0.01)
    assert inner.expired
    assert not outer.expired


def test_outer_scope_expiring_passes_through_the_inner(greenabc_backend: greenabc.Backend) -> None:
    reached_after_inner: list[bool] = []
    with pytest.raises(greenabc.TimeoutExpired), greenabc_backend.timeout(0.05) as outer:
        with greenabc_backend.timeout(5) as inner:
            spin(5)
        reached_after_inner.append(True)
    assert outer.expired
    assert not inner.expired
    assert reached_after_inner == []


def test_other_exceptions_pass_through(greenabc_backend: greenabc.Backend) -> None:
    with pytest.raises(KeyError), greenabc_backend.timeout(1):
        raise KeyError("x")


def test_a_scope_is_entered_once(greenabc_backend: greenabc.Backend) -> None:
    scope = greenabc_backend.timeout(1)
    with scope:
        pass
    with pytest.raises(RuntimeError, match="once"), scope:
        pass


@pytest.mark.parametrize("seconds", [-0.5, math.nan, math.inf, "2"])
def test_bad_seconds_are_refused(greenabc_backend: greenabc.Backend, seconds: Any) -> None:
    error = TypeError if isinstance(seconds, str) else ValueError
    with pytest.raises(error):
        greenabc_backend.timeout(seconds)


def test_top_level_timeout_uses_the_default_backend() -> None:
    with pytest.raises(greenabc.TimeoutExpired), greenabc.timeout(0.05):
        spin(5)
