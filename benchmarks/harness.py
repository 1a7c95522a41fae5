"""What the process benchmarks share (gunicorn.py, celery_scale.py).

A process's CPU time from /proc, the machine and package versions a page
names, the per-round ratio summary (median and min-max of ratios taken
within each round, never a ratio of medians) and its formatting, and the
writer that puts a generated block into a docs page between its markers,
leaving the rest of the page alone. Imported by those scripts, which run
with this directory first on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

X, DASH = "\u00d7", "\u2013"


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat from its state field on (the name may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def package_version(name: str, python: str | None = None) -> str:
    """*name*'s installed version, in this interpreter or in *python*."""
    if python is not None:
        code = f"import importlib.metadata as m; print(m.version({name!r}))"
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
        return out.stdout.strip() or "?"
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_before": os.getloadavg()[0],
    }


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def spread(values: list[float]) -> dict[str, float] | None:
    """Median, min and max of *values* (None when there are none)."""
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(stats: dict[str, float] | None, spec: str) -> str:
    """A spread's median, or a dash when there is none."""
    return DASH if not stats else format(stats["median"], spec)


def ratio(stats: dict[str, float] | None) -> str:
    """A spread of ratios: the median in bold, then (min-max)."""
    if not stats:
        return DASH
    return f"**{stats['median']:.2f}{X}** ({stats['min']:.2f}{DASH}{stats['max']:.2f})"


def write_block(page: Path, begin_prefix: str, end: str, generated: str) -> None:
    """Put *generated* (from its begin marker to *end*) into *page* in place of
    the block there, or at the end when there is none; the rest is kept."""
    text = page.read_text()  # read now: others' sections survive
    if begin_prefix in text and end in text:
        head, rest = text.split(begin_prefix, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + generated + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + generated
    page.write_text(text)
    print(f"wrote the generated block into {page}", file=sys.stderr)
