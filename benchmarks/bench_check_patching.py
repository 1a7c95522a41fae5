"""How long ``greenabc.check_patching()`` takes in a large application.

Writes N modules (each importing a few stdlib names and defining functions
and classes, a tenth of them holding an early ``from socket import socket``),
imports them all, patches, then times ``check_patching()``.

    python benchmarks/bench_check_patching.py [--backend gevent] [--modules 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="gevent")
    parser.add_argument("--modules", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.modules):
            early = "from socket import socket" if i % 10 == 0 else ""
            Path(tmp, f"appmod_{i}.py").write_text(BODY.format(i=i, early=early))
        sys.path.insert(0, tmp)
        for i in range(args.modules):
            __import__(f"appmod_{i}")
        import warnings

        import greenabc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", greenabc.PatchWarning)
            greenabc.patch(args.backend)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            findings = greenabc.check_patching()
            times.append(time.perf_counter() - started)
    result = {
        "backend": args.backend,
        "modules_in_sys_modules": len(sys.modules),
        "findings": len(findings),
        "median_ms": statistics.median(times) * 1000,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"check_patching() with {result['modules_in_sys_modules']} modules imported:"
            f" {result['median_ms']:.1f} ms (median of {args.repeat}),"
            f" {result['findings']} findings"
        )


if __name__ == "__main__":
    main()
