"""``python -m greenabc backends``: what is installed, and what each can do."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .._core._compiled import form
from .._core._registry import INSTALL_HINTS, available_backends, get_backend
from . import parser as cli_parser


def main(argv: list[str]) -> int:
    parser = cli_parser("backends")
    parser.add_argument(
        "--capabilities",
        action="store_true",
        help="load each backend and show its capabilities (exit code 1 if any is broken)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    names = available_backends()
    missing = {n: f"pip install {d}" for n, d in INSTALL_HINTS.items() if n not in names}
    report: dict[str, Any] = {"core": form(), "available": names, "not_installed": missing}
    capabilities: dict[str, dict[str, object]] = {}
    broken: dict[str, str] = {}
    if args.capabilities:
        report.update(capabilities=capabilities, broken=broken)
        for name in names:
            try:
                capabilities[name] = get_backend(name).capabilities.as_dict()
            except Exception as exc:  # a broken plugin must not hide the others
                broken[name] = (str(exc).strip().splitlines() or [repr(exc)])[0]
    code = 1 if broken else 0
    if args.json:
        print(json.dumps(report, indent=2))
        return code
    print(f"core: {form()}")
    for name in names:
        print(f"{name} (broken: {broken[name]})" if name in broken else name)
        for key, value in capabilities.get(name, {}).items():
            print(f"    {key}: {value}")
    for name, hint in missing.items():
        print(f"{name} (not installed: {hint})")
    return code
