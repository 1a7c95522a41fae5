"""Bad input: one rule, and messages that agree with what each argument accepts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import greenabc
from greenabc._core._validate import check_optional_seconds, check_seconds, check_size

BAD = [-1, -0.5, float("nan"), float("inf"), "1", True, [1]]


@pytest.mark.parametrize("value", BAD)
def test_check_seconds_does_not_offer_none(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="^delay must be a ") as info:
        check_seconds(value, "delay")
    assert "None" not in str(info.value)


def test_check_seconds_refuses_none_as_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^delay must be a number of seconds, got NoneType: None$"):
        check_seconds(None, "delay")


@pytest.mark.parametrize("value", BAD)
def test_check_optional_seconds_offers_none(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="or None for no limit, got "):
        check_optional_seconds(value, "timeout")


@pytest.mark.parametrize(("value", "expected"), [(None, None), (0, 0.0), (2, 2.0), (0.25, 0.25)])
def test_good_seconds_pass(value: object, expected: float | None) -> None:
    assert check_optional_seconds(value) == expected
    if value is not None:
        assert type(check_seconds(value)) is float
        assert check_seconds(value) == expected
        assert check_seconds(value, "x", allow_none=True) == expected


def test_check_size() -> None:
    assert check_size(3) == 3
    with pytest.raises(TypeError, match="size must be an int, got bool"):
        check_size(True)
    with pytest.raises(ValueError, match="size must be at least 1, got 0"):
        check_size(0)


@pytest.fixture
def pool() -> Iterator[greenabc.Pool]:
    p = greenabc.get_backend("threads").create_pool(2)
    yield p
    p.close(timeout=5)


@pytest.fixture
def timer() -> Iterator[greenabc.Timer]:
    t = greenabc.get_backend("threads").create_timer()
    yield t
    t.stop()


Call = Callable[[greenabc.Pool, greenabc.Timer, Any], object]

# (where, how to pass a value there, whether None is accepted)
PUBLIC: list[tuple[str, Call, bool]] = [
    ("Timer.call_after", lambda p, t, v: t.call_after(v, int), False),
    ("Timer.call_at", lambda p, t, v: t.call_at(v, int), False),
    ("Timer.call_repeatedly", lambda p, t, v: t.call_repeatedly(v, int), False),
    ("greenabc.timeout", lambda p, t, v: greenabc.timeout(v), True),
    ("apply_async timeout", lambda p, t, v: p.apply_async(int, timeout=v), True),
    ("apply_async soft_timeout", lambda p, t, v: p.apply_async(int, soft_timeout=v), True),
    ("Pool.join", lambda p, t, v: p.join(v), True),
    # A pending task: Task.get skips its check when the outcome is already known.
    ("Task.get", lambda p, t, v: p.spawn(time.sleep, 0.05).get(v), True),
    ("Task.wait", lambda p, t, v: p.spawn(time.sleep, 0.05).wait(v), True),
]


@pytest.mark.parametrize(("where", "call", "accepts_none"), PUBLIC, ids=[c[0] for c in PUBLIC])
def test_public_messages_offer_none_only_where_none_is_accepted(
    pool: greenabc.Pool, timer: greenabc.Timer, where: str, call: Call, accepts_none: bool
) -> None:
    for value in [*BAD, *([] if accepts_none else [None])]:
        with pytest.raises((TypeError, ValueError)) as info:
            call(pool, timer, value)
        message = str(info.value)
        assert ("None for no limit" in message) is accepts_none, (where, value, message)
        assert "seconds" in message or ">= 0" in message, (where, value, message)
    if accepts_none:
        call(pool, timer, None)  # what the message offers really works


def test_call_after_none_says_it_needs_a_number_of_seconds(timer: greenabc.Timer) -> None:
    with pytest.raises(TypeError, match=r"^delay must be a number of seconds, got NoneType: None$"):
        timer.call_after(None, int)  # type: ignore[arg-type]
