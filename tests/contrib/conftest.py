"""The integration tests' one option: ``--long`` runs the long ones.

A test marked ``@pytest.mark.long`` (a soak, a full-size fault run, minutes
each) is skipped by default, saying how to run it; CI runs the short
versions beside them. The long runs give the figures in the docs.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the long integration runs (@pytest.mark.long): minutes each",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(
        reason="long run, minutes: pass --long (python -m pytest tests/contrib --long -k NAME)"
    )
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)
