"""``python -m greenabc bench``: greenabc against the raw engine, per backend.

Each backend runs in a process of its own, patched first
(``python -m greenabc._cli._bench_cases``); this process only draws the
progress bar and the table, with rich (the ``cli`` extra), imported here and
nowhere else. ``--extend MODULE:FUNCTION`` adds an extension's sides and cases
to the same rounds (the repository's ``benchmarks/run.py`` is one);
``--tasks`` sets the tasks and timers per case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from .._core._registry import available_backends
from . import UsageError
from . import parser as cli_parser

NO_RICH = "python -m greenabc bench needs rich: pip install 'greenabc[cli]'"
CHILD_TIMEOUT = 600.0  # s for one backend's whole run: no hang
#: The console's width when the output is not a terminal and $COLUMNS is not
#: set: wide enough that a table is drawn at its own width, never wrapped at
#: rich's default of 80 (a row split over lines reads badly in a log or a file).
PIPED_WIDTH = 1000


def main(argv: list[str]) -> int:
    parser = cli_parser("bench")
    parser.add_argument(
        "--backend",
        action="append",
        metavar="NAME",
        help="a backend to measure (repeatable; default: every installed one)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer tasks and timers: seconds per backend"
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument(
        "--tasks",
        type=int,
        default=None,
        help="tasks and timers per case (default 100k, 10k quick)",
    )
    parser.add_argument(
        "--extend",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="call FUNCTION(suite) before the rounds, to add sides and cases (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    installed = available_backends()
    names = args.backend or installed
    unknown = [name for name in names if name not in installed]
    if unknown:
        raise UsageError(f"unknown backend {unknown[0]!r}; available: {', '.join(installed)}")
    for spec in args.extend:
        if spec.count(":") != 1 or not all(spec.split(":")):
            raise UsageError(f"--extend {spec!r}: expected MODULE:FUNCTION")
    try:
        from rich.console import Console
    except ImportError:
        print(NO_RICH, file=sys.stderr)
        return 2
    console = Console(stderr=args.json)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(stderr=args.json, width=PIPED_WIDTH)
    results: list[dict[str, Any]] = []
    code = 0
    for name in names:
        result = _measure(console, name, _child(name, args))
        if result is None:
            code = 1
            continue
        results.append(result)
        if not args.json:
            _show(console, result)
    if args.json:
        print(json.dumps(results, indent=2))
    return code


def _child(name: str, args: Any) -> list[str]:
    command = [sys.executable, "-m", "greenabc._cli._bench_cases", "--backend", name]
    if args.quick:
        command.append("--quick")
    for option in ("rounds", "tasks"):
        if getattr(args, option) is not None:
            command += [f"--{option}", str(getattr(args, option))]
    for spec in args.extend:
        command += ["--extend", spec]
    return command


def _lines(process: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("{"):
            event: dict[str, Any] = json.loads(line)
            yield event


def _measure(console: Any, name: str, command: list[str]) -> dict[str, Any] | None:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    env = {k: v for k, v in os.environ.items() if k != "GREENABC_BACKEND"}
    result: dict[str, Any] | None = None
    errors: list[str] = []
    # stderr to a file, not a pipe: a pipe nobody reads until the end would
    # block a child that writes more than its buffer (logs of its cases).
    with (
        tempfile.TemporaryFile("w+") as stderr_file,
        subprocess.Popen(  # noqa: S603 (this interpreter, our module)
            command,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            env=env,
        ) as process,
        Progress(
            TextColumn(f"[bold]{name:9}[/]"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        bar = progress.add_task("starting", total=None)
        for event in _lines(process):
            if event["event"] == "progress":
                progress.update(
                    bar, completed=event["step"], total=event["steps"], description=event["label"]
                )
            elif event["event"] == "error":
                errors.append(f"{event['case']}: {event['side']}: {event['error']}")
            elif event["event"] == "result":
                result = event
        try:
            process.wait(CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
        stderr_file.seek(0)
        stderr = stderr_file.read()
    for error in errors:
        console.print(f"[yellow]{name}: {error}[/]")
    if result is None or process.returncode:
        last = (stderr.strip().splitlines() or ["no result"])[-1]
        console.print(f"[red]{name}: failed (exit {process.returncode}): {last}[/]")
        return None
    return result


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.2f} µs" if value < 100 else f"{value:.0f} µs"


def _figure(side: dict[str, Any], key: str) -> str:
    """A side's median of metric *key*, µs formatted; any other metric named."""
    if key not in side:
        return "error"
    value = side[key]["median"]
    return _fmt(value, "us") if key in ("us", "cpu_us") else f"{value:.3g} {key}"


def _main_key(case: dict[str, Any], side: dict[str, Any]) -> str:
    """The metric a row shows: the case's first ratio metric, else the side's first."""
    metrics = case.get("metrics") or [k for k in side if k != "errors"]
    return str(metrics[0]) if metrics else "us"


def _ratio(stats: dict[str, float] | None) -> str:
    if not stats:
        return ""
    return f"{stats['median']:.2f}x ({stats['min']:.2f}-{stats['max']:.2f})"


def _show(console: Any, result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        title=f"greenabc on {result['backend']} vs the raw engine"
        f" - median of {result['rounds']} rounds; ratio = greenabc / contender, per round;"
        f" core: {result.get('versions', {}).get('greenabc core', '?')}",
        title_justify="left",
    )
    for column in ("case", "contender", "greenabc", "contender ", "ratio (min-max)"):
        left = column in ("case", "contender")
        table.add_column(column, justify="left" if left else "right", overflow="fold")
    for case in result["cases"]:
        ours = case["sides"][case["ours"]]
        key = _main_key(case, ours)
        if not case["ratios"]:  # nothing to contend on this backend: ours alone
            table.add_row(case["label"], "(no peer)", _figure(ours, key), "", "")
        first = True
        for contender, ratios in case["ratios"].items():
            theirs = case["sides"][contender]
            label = case["label"] if first else ""
            first = False
            if case["name"] == "timers":
                _timer_rows(table, label, contender, ours, theirs, ratios)
                continue
            table.add_row(
                label, contender, _figure(ours, key), _figure(theirs, key), _ratio(ratios.get(key))
            )
    console.print(table)


def _timer_rows(
    table: Any,
    label: str,
    contender: str,
    ours: dict[str, Any],
    theirs: dict[str, Any],
    ratios: dict[str, Any],
) -> None:
    if "cpu_us" not in ours or "cpu_us" not in theirs:
        table.add_row(label, contender, "error", "error", "")
        return
    table.add_row(
        label,
        f"{contender}: CPU/timer",
        _fmt(ours["cpu_us"]["median"], "us"),
        _fmt(theirs["cpu_us"]["median"], "us"),
        _ratio(ratios.get("cpu_us")),
    )
    table.add_row(
        "",
        "  worst late",
        _fmt(ours["late_worst_ms"]["median"], "ms"),
        _fmt(theirs["late_worst_ms"]["median"], "ms"),
        "",
    )
    table.add_row(
        "",
        "  early firings (max of rounds)",
        f"{ours['early']['max']:.0f}",
        f"{theirs['early']['max']:.0f}",
        "",
    )
