"""``python -m greenabc run --backend NAME (SCRIPT | -m MODULE) [ARGS...]``.

Patches first, then runs the target as ``python SCRIPT`` / ``python -m
MODULE`` would: same ``sys.argv``, ``__main__``, ``sys.path[0]`` and exit
code. This is how ``celery`` or an application runs green without being
edited. Only stdlib modules that patching handles in place are imported
before the patch. ``gunicorn`` is the exception: its arbiter stays unpatched,
and ``--backend`` goes to its workers as ``$GREENABC_BACKEND``.
"""

from __future__ import annotations

import os
import runpy
import sys
from importlib.machinery import ModuleSpec
from importlib.util import find_spec

from .._core._exceptions import GreenabcError
from .._core._registry import ENV_BACKEND
from . import UsageError, one_line


def _find_spec(name: str) -> ModuleSpec | None:
    try:
        return find_spec(name)
    except (ImportError, ValueError):  # a parent package that is missing
        return None


USAGE = "usage: python -m greenabc run --backend NAME (SCRIPT | -m MODULE) [ARGS...]"


HELP = f"""{USAGE}

Patch NAME (default: $GREENABC_BACKEND) first, then run SCRIPT or MODULE as
python would, with the same sys.argv, __main__ and exit code."""


GUNICORN_NOTE = (
    "python -m greenabc run: gunicorn's arbiter is left unpatched; with"
    " -k greenabc.contrib.gunicorn.Worker each worker patches {} after the fork"
)


def _is_gunicorn(as_module: bool, target: str) -> bool:
    return (target if as_module else os.path.basename(target)) == "gunicorn"


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
            raise UsageError(f"--backend needs a name\n{USAGE}")
    if rest[:1] == ["-m"]:
        if len(rest) < 2:
            raise UsageError(f"-m needs a module name\n{USAGE}")
        return backend, True, rest[1], rest[2:]
    if not rest or rest[0].startswith("-"):
        raise UsageError(USAGE)
    return backend, False, rest[0], rest[1:]


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(HELP)
        return 0
    # Errors before the program starts are greenabc's: one line each. What
    # the program raises is its own, shown as python would show it.
    try:
        backend, as_module, target, args = _parse(argv)
        if not as_module and not os.path.isfile(target):
            raise UsageError(f"no such script: {target!r}")
        import greenabc

        if _is_gunicorn(as_module, target):
            # Patching the arbiter before it forks would break it (eventlet) or
            # hide the engine from what it shares with its workers: each
            # greenabc worker patches after the fork, as it always does.
            if backend:
                os.environ[ENV_BACKEND] = backend
            print(GUNICORN_NOTE.format(os.environ.get(ENV_BACKEND) or "threads"), file=sys.stderr)
        else:
            greenabc.patch(backend)  # None: $GREENABC_BACKEND
        if as_module and _find_spec(target) is None:  # after the patch: it may import
            raise UsageError(f"no module named {target!r}")
    except (UsageError, GreenabcError) as exc:
        print(f"python -m greenabc run: {one_line(exc)}", file=sys.stderr)
        return 2
    if as_module:
        sys.argv = [target, *args]  # runpy sets argv[0] to the module's path
        sys.path.insert(0, os.getcwd())
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target, *args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")
    return 0
