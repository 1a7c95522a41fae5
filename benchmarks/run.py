"""Every benchmark, every peer, one command, one method (pyperf-style rounds).

    python benchmarks/run.py [--quick] [--rounds N] [--write] [--only ENGINE ...]

Each engine (threads, gevent, eventlet) is measured by ``greenabc bench`` in a
process of its own, patched first, with this repository's cases added to the
same rounds (``--extend benchmarks.cases:extend``): in each round every
case's sides (greenabc and its peers) run in a shuffled order, and each
round's ratio greenabc / peer is taken within that round. The summary is the
median and min-max of those per-round ratios, never a ratio of medians. The
cases are ``greenabc bench``'s (greenabc against the raw engine: spawn,
timers, timeout scopes) plus ``benchmarks/cases/``: Celery's pools and timers,
kombu's Timer, futurist, the executor, the primitives, the floor, peak RSS
(each side in a fresh process), ``check_patching()``, and the cyclic GC
figures of a fault soak.

Where the core is compiled (``greenabc --version``), each engine is measured
twice, compiled and then on its Python sources (``GREENABC_PURE_PYTHON=1``),
and the targets table shows both; ``--compiled-only`` skips the second.

Results go to benchmarks/results.json; --write then runs report.py, which
regenerates the generated block of docs/benchmarks.md and docs/img/*.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import machine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
ENGINES = ("threads", "gevent", "eventlet")
QUICK_TASKS = 10_000  # --quick: tasks and timers per case (100k without)
CHILD_TIMEOUT = 3600  # s for one engine's whole run: no hang


def core_form() -> str:
    code = "from greenabc._core._compiled import form; print(form())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def run_engine(engine: str, rounds: int, quick: bool, pure: bool = False) -> dict[str, Any] | None:
    """``greenabc bench`` on one engine, with this repository's cases."""
    command = [sys.executable, "-m", "greenabc", "bench", "--backend", engine, "--json"]
    command += ["--rounds", str(rounds), "--extend", "benchmarks.cases:extend"]
    command += ["--tasks", str(QUICK_TASKS)] if quick else []
    env = {k: v for k, v in os.environ.items() if k != "GREENABC_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if pure:
        env["GREENABC_PURE_PYTHON"] = "1"
    form = " (pure Python)" if pure else ""
    print(f"[{engine}{form}] {' '.join(command[1:])}", file=sys.stderr, flush=True)
    out = subprocess.run(
        command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=CHILD_TIMEOUT
    )
    if out.returncode or not out.stdout.strip():
        print(f"[{engine}] failed: exit {out.returncode}", file=sys.stderr)
        return None
    [result] = json.loads(out.stdout)
    return dict(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_TASKS:,} tasks and timers, not 100k"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", action="append", choices=ENGINES, help="an engine (repeatable)")
    parser.add_argument("--write", action="store_true", help="then regenerate docs/benchmarks.md")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--compiled-only", action="store_true", help="not the pure-Python core a second time"
    )
    args = parser.parse_args()
    engines = args.only or list(ENGINES)
    started = time.monotonic()
    info = machine()
    results: dict[str, Any] = {"engines": {}, "machine": info, "quick": args.quick}
    results["core"] = core_form()
    both = results["core"].startswith("compiled") and not args.compiled_only
    if both:
        results["pure"] = {"engines": {}, "core": "pure Python"}
    for engine in engines:
        found = run_engine(engine, args.rounds, args.quick)
        if found is not None:
            results["engines"][engine] = found
        if both:
            found = run_engine(engine, args.rounds, args.quick, pure=True)
            if found is not None:
                results["pure"]["engines"][engine] = found
    info["load_after"] = os.getloadavg()[0]
    info["minutes"] = (time.monotonic() - started) / 60
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    command += f" --rounds {args.rounds}" if args.rounds != 5 else ""
    command += " --compiled-only" if args.compiled_only else ""
    results["command"] = command + " --write"
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {args.out} ({info['minutes']:.1f} min)", file=sys.stderr)
    if args.write:
        import report

        report.write(results)
    return 0 if len(results["engines"]) == len(engines) else 1


if __name__ == "__main__":
    sys.exit(main())
