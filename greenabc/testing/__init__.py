"""The conformance kit: the suite every backend must pass.

Run it on any installed backend, in a process of its own, patched first::

    python -m greenabc.testing NAME [pytest arguments...]

or, in a process you have patched yourself, ``pytest --greenabc-backend NAME
--pyargs greenabc.testing.suite``. The ``greenabc_backend`` fixture gives the
Backend under test.
"""

from __future__ import annotations

from pathlib import Path

#: The directory of the conformance tests, to pass to pytest.
SUITE = Path(__file__).with_name("suite")

__all__ = ["SUITE"]
