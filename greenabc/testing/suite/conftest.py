from __future__ import annotations

from collections.abc import Iterator

import pytest

import greenabc


@pytest.fixture
def pool(greenabc_backend: greenabc.Backend) -> Iterator[greenabc.Pool]:
    p = greenabc_backend.create_pool(4)
    yield p
    p.close(timeout=2)


@pytest.fixture
def timer(greenabc_backend: greenabc.Backend) -> Iterator[greenabc.Timer]:
    t = greenabc_backend.create_timer()
    yield t
    t.stop()
