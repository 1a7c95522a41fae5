"""The command line. Each subcommand's module is imported only once it is
chosen: ``run`` must patch before anything else is imported."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

USAGE = """\
python -m greenabc demo [--backend NAME]
python -m greenabc backends [--capabilities] [--json]
python -m greenabc run --backend NAME SCRIPT [ARGS...]
python -m greenabc run --backend NAME -m MODULE [ARGS...]
python -m greenabc check [--backend NAME] [MODULE...]"""

COMMANDS = {
    "demo": "run a short demo on a backend",
    "backends": "list the installed backends",
    "run": "patch first, then run a script or module as python would",
    "check": "report the patched engine, early imports and versions",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(f"usage:\n{USAGE}\n")
        for name, text in COMMANDS.items():
            print(f"  {name:10} {text}")
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}; one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"{__name__}._{command}")
    code: int = module.main(rest)
    return code


def parser(command: str) -> argparse.ArgumentParser:
    """A parser for one subcommand, with the shared look."""
    return argparse.ArgumentParser(
        prog=f"python -m greenabc {command}", description=COMMANDS[command]
    )
