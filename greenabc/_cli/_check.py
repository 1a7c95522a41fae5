"""``python -m greenabc check [--backend NAME] [MODULE...]``.

Imports each MODULE (as an application would, perhaps too early), patches
NAME (default ``$GREENABC_BACKEND``, as ``run`` does), then prints the
patched engine, every early import that still holds an unpatched object, and
the versions. Exit code 1 if any early import was found, 2 for a user error
(a MODULE that cannot be imported, an unknown backend).
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib import metadata

from . import UsageError
from . import parser as cli_parser

DISTRIBUTIONS = ("greenabc", "greenabc-gevent", "greenabc-eventlet", "gevent", "eventlet")


def main(argv: list[str]) -> int:
    parser = cli_parser("check")
    parser.add_argument(
        "--backend",
        help="patch this backend after importing the modules (default: $GREENABC_BACKEND)",
    )
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="import these first")
    args = parser.parse_args(argv)
    for name in args.modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise UsageError(f"cannot import {name!r}: {exc}") from exc
    import warnings

    import greenabc
    from greenabc._core._registry import ENV_BACKEND

    backend = args.backend or os.environ.get(ENV_BACKEND)
    if backend:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", greenabc.PatchWarning)  # reported below instead
            greenabc.patch(backend)
    print(f"patched engine: {greenabc.current_backend() or 'none'}")
    findings = greenabc.check_patching()
    if findings:
        print(f"imported too early ({len(findings)}):")
        for finding in findings:
            print(f"  {finding}")
    else:
        print("imported too early: nothing")
    print("versions:")
    for dist in DISTRIBUTIONS:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "not installed"
        print(f"  {dist}: {version}")
    sys.stdout.flush()
    return 1 if findings else 0
