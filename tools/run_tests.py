"""Run every test suite, each backend in a process of its own, patched first.

    python tools/run_tests.py [--only NAME] [pytest arguments...]

Runs the core tests and the conformance suite on ``threads``, then the
conformance suite and the adapter's own tests on each green backend, then the
conformance suite on ``naive-threads``, the example third-party engine of
``tests/naive_engine`` (found through the entry point of its ``site/``, so
that the fresh interpreters some kit tests start find it too), then the
integrations (``tests/contrib``: Celery workers and gunicorn servers on every
backend, driven from an unpatched pytest). Where the core is compiled
(``greenabc --version``), the core tests and each backend's suite run once
more on its Python sources (``GREENABC_PURE_PYTHON=1``): both forms are
tested. Fails if any run fails, errors, or collects no test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAIVE = ROOT / "tests" / "naive_engine"
RUNS = {
    "threads": ["tests", "--ignore=tests/contrib"],
    "gevent": ["adapters/gevent/tests"],
    "eventlet": ["adapters/eventlet/tests"],
    # The kit alone, on the example third-party engine (tests/naive_engine).
    "naive-threads": [],
    # The integrations: real celery workers and gunicorn servers, each a
    # subprocess on its own backend; this process is their unpatched client.
    "contrib": ["tests/contrib"],
    # The same core from its Python sources (only where it is compiled).
    "threads-pure": ["tests", "--ignore=tests/contrib"],
    "gevent-pure": ["adapters/gevent/tests"],
    "eventlet-pure": ["adapters/eventlet/tests"],
}
#: The runs on the core's Python sources: the backend each runs on.
PURE_RUNS = {"threads-pure": "threads", "gevent-pure": "gevent", "eventlet-pure": "eventlet"}
PURE = {"GREENABC_PURE_PYTHON": "1"}
#: Runs that are plain pytest, not the kit on a backend.
CLIENT_RUNS = {"contrib"}
#: Extra environment of a run: the naive engine's entry point on sys.path.
ENV = {
    "naive-threads": {"PYTHONPATH": os.pathsep.join([str(ROOT), str(NAIVE / "site")])},
    **dict.fromkeys(PURE_RUNS, PURE),
}
RUN_TIMEOUT = 600  # seconds for one backend's whole run: no hang blocks CI
#: The integrations start real workers and servers: about 12 minutes here.
RUN_TIMEOUTS = {"contrib": 1500}


def run(name: str, paths: list[str], extra: list[str]) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp, "report.json")
        env = dict(os.environ, GREENABC_TEST_REPORT=str(report), **ENV.get(name, {}))
        env.pop("GREENABC_BACKEND", None)
        backend = PURE_RUNS.get(name, name)
        runner = ["pytest"] if name in CLIENT_RUNS else ["greenabc.testing", backend]
        command = [sys.executable, "-m", *runner, *paths, *extra]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        bound = RUN_TIMEOUTS.get(name, RUN_TIMEOUT)
        try:
            code = subprocess.run(command, cwd=ROOT, env=env, timeout=bound).returncode
        except subprocess.TimeoutExpired:
            print(f"=== {name}: did not finish within {bound} s", flush=True)
            return {"failed": 1}
        counts: dict[str, int] = json.loads(report.read_text()) if report.exists() else {}
    ran = sum(counts.values())
    if code != 0 or not ran:
        why = "no test ran" if not ran else f"pytest exit code {code}"
        print(f"=== {name}: FAILED ({why})", flush=True)
        counts["failed"] = counts.get("failed", 0) + (0 if counts.get("failed") else 1)
    return counts


def _core_is_compiled() -> bool:
    code = "from greenabc._core._compiled import form; print(form())"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    print(f"greenabc core: {done.stdout.strip()}", flush=True)
    return done.stdout.startswith("compiled")


def main(argv: list[str]) -> int:
    only = None
    if argv[:1] == ["--only"]:
        if len(argv) < 2 or argv[1] not in RUNS:
            given = repr(argv[1]) if len(argv) > 1 else "nothing"
            print(
                f"run_tests.py: --only takes one of {', '.join(RUNS)} (got {given})",
                file=sys.stderr,
            )
            return 2
        only, argv = argv[1], argv[2:]
    total: dict[str, int] = {}
    compiled = _core_is_compiled()
    for name, paths in RUNS.items():
        if only is not None and name != only:
            continue
        if name in PURE_RUNS and not compiled:
            print(f"\n=== {name}: not run, the core is pure Python already", flush=True)
            continue
        for key, value in run(name, paths, argv).items():
            total[key] = total.get(key, 0) + value
    failed = total.get("failed", 0) + total.get("error", 0)
    print(f"\n{total.get('passed', 0)} passed, {failed} failed, {total.get('skipped', 0)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
