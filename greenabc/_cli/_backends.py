"""``python -m greenabc backends``: what is installed, and what each can do."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._core._registry import INSTALL_HINTS, available_backends, get_backend
from . import parser as cli_parser


def main(argv: list[str]) -> int:
    parser = cli_parser("backends")
    parser.add_argument(
        "--capabilities", action="store_true", help="load each backend and show its capabilities"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    names = available_backends()
    missing = {n: f"pip install {d}" for n, d in INSTALL_HINTS.items() if n not in names}
    report: dict[str, Any] = {"available": names, "not_installed": missing}
    if args.capabilities:
        report["capabilities"] = {n: get_backend(n).capabilities.as_dict() for n in names}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name in names:
        print(name)
        for key, value in report.get("capabilities", {}).get(name, {}).items():
            print(f"    {key}: {value}")
    for name, hint in missing.items():
        print(f"{name} (not installed: {hint})")
    return 0
