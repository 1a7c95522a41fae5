"""Which form of the core runs: its hot modules compiled by mypyc, or the
Python sources they are compiled from.

The build (``hatch_build.py``) compiles :data:`COMPILED` where it finds a C
compiler and records the hash of each source it compiled in ``_build.json``
beside them; without a compiler, or with ``GREENABC_PURE_PYTHON=1``, it
builds pure Python. ``GREENABC_PURE_PYTHON=1`` at run time imports the
sources even where compiled modules sit beside them (as gevent's
``PURE_PYTHON``): what CI uses to test both forms from one install.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

#: The modules of ``greenabc._core`` that the build compiles: those a
#: task, a timer and a timeout scope run through (the callgrind profile).
COMPILED = ("_deadlines", "_outcome", "_pool", "_task", "_timeout", "_timer")
#: Set (to anything but "" or "0") to run the Python sources.
PURE_PYTHON_ENV = "GREENABC_PURE_PYTHON"

_HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_RECORD = os.path.join(_HERE, "_build.json")
#: Written beside it by an editable build: sources there may change after it.
EDITABLE_RECORD = os.path.join(_HERE, "_build_editable")

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Any:
        """mypyc reads this decorator at compile time; at run time it is a no-op
        (so that mypy_extensions is not a dependency)."""
        return lambda cls: cls


def pure_python_requested() -> bool:
    return os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0")


# Imports at the use: this module runs on every `import greenabc`
# (importlib.abc alone costs ~15 ms), and most of it only for the CLI.


class _SourcesFirst:
    """A meta-path finder: the compiled modules from their ``.py`` sources."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, module = fullname.rpartition(".")
        if package != __package__ or module not in COMPILED:
            return None
        from importlib.util import spec_from_file_location

        return spec_from_file_location(fullname, os.path.join(_HERE, module + ".py"))


def _source_hash(module: str) -> str:
    import hashlib

    with open(os.path.join(_HERE, module + ".py"), "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def _build_record() -> dict[str, Any]:
    import json

    try:
        with open(BUILD_RECORD, encoding="utf-8") as record:
            found: dict[str, Any] = json.load(record)
            return found
    except (OSError, ValueError):
        return {}


def form() -> str:
    """``"compiled (mypyc ...)"`` or ``"pure Python"`` and why: for
    ``greenabc --version``, ``greenabc backends`` and ``greenabc bench``."""
    from . import _pool

    if not (_pool.__file__ or "").endswith(".py"):
        return f"compiled ({_build_record().get('compiler', 'mypyc')})"
    if pure_python_requested():
        return f"pure Python ({PURE_PYTHON_ENV}=1)"
    return "pure Python"


def stale_modules() -> list[str]:
    """The modules of :data:`COMPILED` that the last build did not compile
    from the sources beside them (an editable install whose sources were
    edited, or whose list grew): they run old code, or none compiled."""
    built = _build_record().get("sources", {})
    return [name for name in COMPILED if built.get(name) != _source_hash(name)]


def choose() -> None:
    """Before the core is imported: the sources when asked for, and a
    warning when compiled modules are older than their sources."""
    if pure_python_requested():
        if not any(isinstance(f, _SourcesFirst) for f in sys.meta_path):
            sys.meta_path.insert(0, _SourcesFirst())
        return
    # Only an editable install's sources can change after its build (the
    # build writes the record only there): a wheel's import reads nothing.
    if os.path.exists(EDITABLE_RECORD):
        stale = stale_modules()
        if stale:
            import warnings

            warnings.warn(
                f"greenabc: the compiled core does not match its sources ({', '.join(stale)}"
                " changed, or were not compiled, since the build): rebuild (pip install -e ."
                f" in the checkout) or set {PURE_PYTHON_ENV}=1 to run the sources",
                RuntimeWarning,
                stacklevel=2,
            )
