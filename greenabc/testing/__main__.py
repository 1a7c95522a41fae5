"""``python -m greenabc.testing NAME [pytest args...]``: patch NAME first,
then run the conformance suite (and any extra paths) on it with pytest."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m greenabc.testing NAME [pytest arguments...]", file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    import greenabc

    greenabc.patch(name)  # before pytest and the tests import anything
    import pytest

    from . import SUITE

    return int(pytest.main([str(SUITE), "--greenabc-backend", name, *rest]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
