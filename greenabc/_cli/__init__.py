"""The command line. Each subcommand's module is imported only once it is
chosen: ``run`` must patch before anything else is imported."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .._core._exceptions import GreenabcError

USAGE = """\
python -m greenabc --version
python -m greenabc demo [--backend NAME]
python -m greenabc backends [--capabilities] [--json]
python -m greenabc run --backend NAME SCRIPT [ARGS...]
python -m greenabc run --backend NAME -m MODULE [ARGS...]
python -m greenabc check [--backend NAME] [MODULE...]
python -m greenabc bench [--backend NAME ...] [--quick] [--json]"""

COMMANDS = {
    "demo": "run a short demo on a backend",
    "backends": "list the installed backends",
    "run": "patch first, then run a script or module as python would",
    "check": "report the patched engine, early imports and versions",
    "bench": "measure greenabc against the raw engines (needs greenabc[cli])",
}


class UsageError(Exception):
    """A user's mistake: shown as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:  # the user's program: its errors and output are its own
        code: int = importlib.import_module(f"{__name__}._run").main(args[1:])
        return code
    try:
        code = _command(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
    except BrokenPipeError:  # `... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def _command(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        print(f"usage:\n{USAGE}\n")
        for name, text in COMMANDS.items():
            print(f"  {name:10} {text}")
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        from .. import __version__
        from .._core._compiled import form

        print(f"greenabc {__version__}, core {form()} (Python {sys.version.split()[0]})")
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}; one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"{__name__}._{command}")
    try:
        code: int = module.main(rest)
    except (UsageError, GreenabcError) as exc:
        print(f"python -m greenabc {command}: {one_line(exc)}", file=sys.stderr)
        return 2
    return code


def one_line(exc: BaseException) -> str:
    """An error as a user should see it: greenabc's by their public name."""
    if isinstance(exc, UsageError):
        return str(exc)
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"


def parser(command: str) -> argparse.ArgumentParser:
    """A parser for one subcommand, with the shared look."""
    return argparse.ArgumentParser(
        prog=f"python -m greenabc {command}", description=COMMANDS[command]
    )
