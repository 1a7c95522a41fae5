"""``python -m greenabc run --backend NAME (SCRIPT | -m MODULE) [ARGS...]``.

Patches first, then runs the target as ``python SCRIPT`` / ``python -m
MODULE`` would: same ``sys.argv``, ``__main__``, ``sys.path[0]`` and exit
code. This is how ``celery``, ``gunicorn`` or an application runs green
without being edited. Only stdlib modules that patching handles in place are
imported before the patch.
"""

from __future__ import annotations

import os
import runpy
import sys

USAGE = "usage: python -m greenabc run --backend NAME (SCRIPT | -m MODULE) [ARGS...]"


def _parse(argv: list[str]) -> tuple[str | None, bool, str, list[str]]:
    backend = None
    rest = list(argv)
    while rest and rest[0].startswith("--backend"):
        option = rest.pop(0)
        if "=" in option:
            backend = option.partition("=")[2]
        elif rest:
            backend = rest.pop(0)
        else:
            raise SystemExit(f"--backend needs a name\n{USAGE}")
    if rest[:1] == ["-m"]:
        if len(rest) < 2:
            raise SystemExit(f"-m needs a module name\n{USAGE}")
        return backend, True, rest[1], rest[2:]
    if not rest or rest[0].startswith("-"):
        raise SystemExit(USAGE)
    return backend, False, rest[0], rest[1:]


def main(argv: list[str]) -> int:
    backend, as_module, target, args = _parse(argv)
    import greenabc

    greenabc.patch(backend)  # None: $GREENABC_BACKEND
    if as_module:
        sys.argv = [target, *args]  # runpy sets argv[0] to the module's path
        sys.path.insert(0, os.getcwd())
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target, *args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")
    return 0
