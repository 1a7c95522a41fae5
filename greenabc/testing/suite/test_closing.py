"""Closing a pool is bounded, also when the body of ``with pool:`` failed."""

from __future__ import annotations

import time

import pytest

import greenabc

from ._helpers import PROMPT, spin


def test_a_with_block_whose_body_raised_closes_within_the_grace(
    greenabc_backend: greenabc.Backend,
) -> None:
    pool = greenabc_backend.create_pool(2, grace=0.2)
    assert pool.grace == 0.2
    started = time.monotonic()
    with pytest.raises(KeyError), pool:
        task = pool.spawn(spin, 5)
        raise KeyError("the body failed")
    assert time.monotonic() - started < 0.2 + PROMPT / 2  # not spin's 5 s
    assert task.outcome == "killed"
    assert pool.closed


def test_a_with_block_that_ended_waits_for_every_task(greenabc_backend: greenabc.Backend) -> None:
    with greenabc_backend.create_pool(2, grace=0.01) as pool:
        task = pool.spawn(spin, 0.2)
    assert task.outcome == "success"  # the grace is for a failed body only


def test_a_bad_grace_is_refused(greenabc_backend: greenabc.Backend) -> None:
    with pytest.raises(ValueError):
        greenabc_backend.create_pool(2, grace=-1)
