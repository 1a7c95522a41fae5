"""The command line: one module per subcommand, wired up here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import _backends, _demo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m greenabc",
        description="greenabc: one typed layer over gevent, eventlet and threads.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (_demo, _backends):
        module.add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code
