"""How long ``greenabc.check_patching()`` takes in a large application:
3,000 generated modules (each importing a few stdlib names and defining
functions and classes, a tenth of them holding an early
``from socket import socket``) imported, then patched late, then one
``check_patching()`` call timed, as an application pays it at start-up.

There is no peer to take a ratio against: the case reports the cost itself,
the median and min-max over the same rounds. Each round's call runs in a
fresh process (the imports must not pollute the engine's), this module:

    python -m benchmarks.cases.check_patching ENGINE DIRECTORY
"""

from __future__ import annotations

import atexit
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from .common import process_side

MODULES = 3000
BODY = """
import os, re, json, collections
from functools import partial
{early}
CONSTANT_{i} = {i}
def function_{i}(x):
    return x + {i}
class Class_{i}:
    def method(self):
        return {i}
"""


def write_modules(directory: Path) -> None:
    for i in range(MODULES):
        early = "from socket import socket" if i % 10 == 0 else ""
        (directory / f"appmod_{i}.py").write_text(BODY.format(i=i, early=early))


def add(suite: Any) -> None:
    engine = suite.backend.name
    if engine == "threads":
        return  # nothing to patch
    directory = Path(tempfile.mkdtemp(prefix="greenabc-bench-modules-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    write_modules(directory)
    side = "greenabc.check_patching()"
    suite.add(
        "check_patching",
        f"check_patching() with {MODULES:,} modules imported, patched late",
        side,
        {side: process_side(__name__, engine, str(directory))},
        unit="ms",
        ratio_metrics=(),
        label="check_patching()",
    )


def main(engine: str, directory: str) -> None:
    sys.path.insert(0, directory)
    for i in range(MODULES):
        __import__(f"appmod_{i}")
    import greenabc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", greenabc.PatchWarning)
        greenabc.patch(engine)
    started = time.perf_counter()
    findings = greenabc.check_patching()
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {"ms": elapsed * 1e3, "modules": float(len(sys.modules)), "findings": len(findings)}
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
