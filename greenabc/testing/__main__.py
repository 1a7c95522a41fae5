"""``python -m greenabc.testing NAME [pytest args...]``: patch NAME first,
then run the conformance suite (and any extra paths) on it with pytest."""

from __future__ import annotations

import importlib.util
import sys

#: What the suite needs (the ``testing`` extra): module -> distribution.
REQUIRES = {"pytest": "pytest", "pytest_timeout": "pytest-timeout", "hypothesis": "hypothesis"}


def _importable(module: str) -> bool:
    # Found, not imported: pytest must come after the patch.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m greenabc.testing NAME [pytest arguments...]", file=sys.stderr)
        return 2
    missing = [dist for module, dist in REQUIRES.items() if not _importable(module)]
    if missing:
        print(
            f"greenabc.testing needs {', '.join(missing)}: pip install 'greenabc[testing]'",
            file=sys.stderr,
        )
        return 2
    name, rest = argv[0], argv[1:]
    import greenabc

    try:
        greenabc.patch(name)  # before pytest and the tests import anything
    except greenabc.GreenabcError as exc:
        print(f"greenabc.testing: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    import pytest

    from . import SUITE

    return int(pytest.main([str(SUITE), "--greenabc-backend", name, *rest]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
