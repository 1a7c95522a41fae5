"""``python -m greenabc bench``, in fresh processes: the table on each backend,
and one line instead of a traceback without rich."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from greenabc._core._registry import available_backends


def bench(
    *args: str, path: Path | None = None, columns: str | None = "120"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENABC_") and k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "greenabc", "bench", *args],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["threads", "gevent", "eventlet"])
def test_quick_bench_shows_a_table(backend: str) -> None:
    pytest.importorskip("rich")
    if backend not in available_backends():
        pytest.skip(f"the {backend} backend is not installed")
    result = bench("--quick", "--backend", backend, "--rounds", "2", "--tasks", "2000")  # a table
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"greenabc on {backend} vs the raw engine" in out
    assert re.search(r"core:\s+(compiled\s+\(mypyc|pure\s+Python)", out), out  # which form ran
    assert "spawn+complete" in out
    assert "timers" in out
    assert "Traceback" not in result.stderr
    if backend != "threads":
        assert f"{backend}" in out and "Timeout" in out  # the timeout scope rows


@pytest.mark.timeout(120)
def test_quick_bench_json() -> None:
    pytest.importorskip("rich")
    result = bench("--quick", "--backend", "threads", "--json", "--rounds", "2")
    assert result.returncode == 0, result.stderr
    [threads] = json.loads(result.stdout)
    assert threads["backend"] == "threads"
    assert threads["rounds"] == 2
    spawn = next(case for case in threads["cases"] if case["name"] == "spawn")
    [(contender, ratios)] = spawn["ratios"].items()
    assert "ThreadPoolExecutor" in contender
    assert ratios["us"]["min"] <= ratios["us"]["median"] <= ratios["us"]["max"]
    timers = next(case for case in threads["cases"] if case["name"] == "timers")
    ours = timers["sides"][timers["ours"]]
    assert ours["early"]["max"] == 0  # never early
    assert ours["missed"]["max"] == 0


EXTENSION = """
import sys

def extend(suite):
    # An extension may log a lot: the child's stderr must never block it.
    sys.stderr.write("x" * 200_000 + "\\n")
    suite.case("spawn").sides["a slower peer"] = lambda: {"us": 1e6}
    suite.add(
        "mine",
        f"my case ({suite.sizes.tasks} tasks)",
        "fast",
        {"fast": lambda: {"us": 1.0}, "slow": lambda: {"us": 4.0}},
    )
"""


@pytest.mark.timeout(120)
def test_extend_adds_sides_and_cases_to_the_same_rounds(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    (tmp_path / "bench_extension.py").write_text(EXTENSION)
    result = bench(
        *("--quick", "--backend", "threads", "--json", "--rounds", "2", "--tasks", "500"),
        *("--extend", "bench_extension:extend"),
        path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    [threads] = json.loads(result.stdout)
    by_name = {case["name"]: case for case in threads["cases"]}
    assert "500 tasks" in by_name["spawn"]["title"]
    assert by_name["spawn"]["ratios"]["a slower peer"]["us"]["max"] < 1  # ours is cheaper
    mine = by_name["mine"]
    assert mine["title"] == "my case (500 tasks)"
    assert mine["ratios"]["slow"]["us"] == {"median": 0.25, "min": 0.25, "max": 0.25}


def test_extend_needs_module_and_function() -> None:
    result = bench("--quick", "--backend", "threads", "--extend", "no_colon_here")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "--extend 'no_colon_here': expected MODULE:FUNCTION" in line


def test_without_rich_one_line_and_exit_2(tmp_path: Path) -> None:
    shim = tmp_path / "rich"
    shim.mkdir()
    (shim / "__init__.py").write_text("raise ImportError('rich is not installed (test shim)')\n")
    result = bench("--quick", "--backend", "threads", path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m greenabc bench needs rich: pip install 'greenabc[cli]'"
    ]
    assert result.stdout == ""


def test_unknown_backend_is_a_usage_error() -> None:
    result = bench("--backend", "no-such-engine")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "unknown backend 'no-such-engine'" in line
    # The word the other commands and UnknownBackendError use.
    assert f"available: {', '.join(available_backends())}" in line
    assert "installed:" not in line


@pytest.mark.timeout(120)
def test_piped_table_is_not_wrapped_at_80_columns() -> None:
    """Output to a pipe or a file, with no $COLUMNS: each row on one line at
    the table's own width, not folded at rich's default of 80."""
    pytest.importorskip("rich")
    result = bench("--backend", "threads", "--rounds", "1", "--tasks", "500", columns=None)
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line and line[0] in "┏┃┡│└"]
    assert len({len(line) for line in table}) == 1, result.stdout  # one width
    assert len(table[0]) > 80, result.stdout
    rows = [line for line in table if line.startswith("│")]
    # One line per row: every row names its case (none is a wrapped remainder).
    assert all(line.split("│")[1].strip() for line in rows), result.stdout
    assert any(
        "spawn+complete +timeout x500" in line
        and "ThreadPoolExecutor (no per-task limit) submit+result" in line
        for line in rows
    ), result.stdout


def test_rich_stays_out_of_the_import_path() -> None:
    code = (
        "import sys, greenabc, greenabc._cli, greenabc._cli._bench, greenabc._cli._bench_cases,"
        " greenabc._cli._bench_rounds;"
        "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith('rich.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
