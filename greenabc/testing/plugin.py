"""pytest plugin (entry point ``pytest11``): ``--greenabc-backend NAME`` and
the fixtures of the conformance suite."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import greenabc

REPORT_ENV = "GREENABC_TEST_REPORT"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("greenabc").addoption(
        "--greenabc-backend",
        default=None,
        metavar="NAME",
        help="the greenabc backend the conformance suite runs on"
        " (default: $GREENABC_BACKEND, else the patched one, else threads)",
    )


@pytest.fixture(scope="session")
def greenabc_backend_name(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    name: str | None = request.config.getoption("--greenabc-backend")
    return name or greenabc.get_backend().name


@pytest.fixture(scope="session")
def greenabc_backend(greenabc_backend_name: str) -> greenabc.Backend:
    """The Backend under test."""
    return greenabc.get_backend(greenabc_backend_name)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Lets tools/run_tests.py add up the counts of several processes.
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    counts = {
        key: len(terminalreporter.stats.get(key, []))
        for key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    }
    with open(path, "w", encoding="utf-8") as report:
        json.dump(counts, report)
