"""pytest plugin (entry point ``pytest11``): ``--greenabc-backend NAME``, the
fixtures of the conformance suite, and its per-test time limit."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import greenabc

from . import SUITE

REPORT_ENV = "GREENABC_TEST_REPORT"
#: pytest-timeout's limit for each conformance test when none is configured,
#: as where the kit runs outside this repository: a hang fails the test.
DEFAULT_TIMEOUT = 60.0


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("timeout") or _timeout_configured(config):
        return
    suite = SUITE.resolve()
    for item in items:
        if item.get_closest_marker("timeout") is None and item.path.is_relative_to(suite):
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT))


def _timeout_configured(config: pytest.Config) -> bool:
    """True if pytest-timeout has a timeout from --timeout, $PYTEST_TIMEOUT or
    an ini file: the user's choice, which a marker would override."""
    return (
        config.getoption("timeout", None) is not None
        or bool(os.environ.get("PYTEST_TIMEOUT"))
        or config.getini("timeout") not in ("", None)
    )


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
