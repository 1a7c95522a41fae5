"""Find modules imported before patching that still hold unpatched objects.

A module that ran ``from socket import socket`` before patching keeps the
blocking original however well the ``socket`` module itself is patched. We
find such modules by identity: the originals are what greenabc saw in the
stdlib modules before it patched (or gevent's own record, ``monkey.saved``,
when gevent was patched directly), compared with what is there now. The
standard library, C modules, the engines' internals and their copies, and
names that say they hold an original (``_original_getaddrinfo``) are not
findings: a finding is code a user can fix by patching earlier.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from types import ModuleType

from ._exceptions import PatchWarning

#: The option names of ``patch()``: standard-library module names. Each
#: adapter maps them onto its engine (gevent by module, eventlet by category).
PATCHABLE_MODULES = frozenset(
    {
        "builtins",
        "os",
        "queue",
        "select",
        "selectors",
        "signal",
        "socket",
        "ssl",
        "subprocess",
        "sys",
        "threading",
        "time",
    }
)

#: The stdlib modules whose attributes engines replace (``builtins`` and
#: ``sys`` hold nothing worth finding; ``_thread`` is under ``threading``).
WATCHED = tuple(sorted((PATCHABLE_MODULES - {"builtins", "sys"}) | {"_thread"}))

# Never findings: the standard library itself, the engines' internals, and
# copies of unpatched modules the engines keep on purpose.
_IGNORED_ROOTS = frozenset(sys.stdlib_module_names) | {"gevent", "eventlet", "greenlet"}

# eventlet keeps unpatched and patched copies of modules under these prefixes.
_ENGINE_COPIES = ("__original_module_", "__patched_module_")

_C_SUFFIXES = tuple(EXTENSION_SUFFIXES)

_DELETED = object()

_snapshot: dict[tuple[str, str], object] = {}
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Finding:
    """A module that holds an object patching replaced."""

    module: str
    attribute: str
    original: str  # "socket.socket": where the unpatched object came from

    def __str__(self) -> str:
        return (
            f"{self.module}.{self.attribute} is the unpatched {self.original}:"
            f" {self.module} was imported before patching; patch first"
        )


def take_snapshot() -> None:
    """Remember the watched stdlib objects as they are now (before patching)."""
    for name in WATCHED:
        module = sys.modules.get(name)
        if module is None:
            continue
        for attr, value in vars(module).items():
            if not attr.startswith("__"):
                _snapshot.setdefault((name, attr), value)


def _replaced() -> dict[int, tuple[str, object]]:
    """id(original) -> ("module.attr", original) for every replaced object."""
    replaced: dict[int, tuple[str, object]] = {}
    for (name, attr), original in _snapshot.items():
        module = sys.modules.get(name)
        # Replaced, or deleted (eventlet deletes what it cannot make green).
        if module is not None and getattr(module, attr, _DELETED) is not original:
            replaced[id(original)] = (f"{name}.{attr}", original)
    monkey = sys.modules.get("gevent.monkey")
    for name, saved in (getattr(monkey, "saved", None) or {}).items():
        for attr, original in saved.items():
            replaced[id(original)] = (f"{name}.{attr}", original)
    # Plain values (ints, strings, None) are shared widely: not evidence.
    return {
        key: value
        for key, value in replaced.items()
        if not isinstance(value[1], (int, float, str, bytes, tuple, frozenset, type(None)))
    }


def _candidates() -> list[tuple[str, ModuleType]]:
    found = []
    for name, module in list(sys.modules.items()):
        root = name.partition(".")[0]
        if root in _IGNORED_ROOTS or name.startswith(_ENGINE_COPIES):
            continue
        if isinstance(module, ModuleType) and not _is_c_module(module):
            found.append((name, module))
    return found


def _is_c_module(module: ModuleType) -> bool:
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and file.endswith(_C_SUFFIXES)


def check_patching() -> list[Finding]:
    """The modules in ``sys.modules`` that still hold, by identity, an object
    that patching replaced. Empty when no engine is patched."""
    replaced = _replaced()
    if not replaced:
        return []
    findings = []
    for name, module in _candidates():
        try:
            namespace = vars(module)
        except TypeError:
            continue
        for attr, value in list(namespace.items()):
            hit = replaced.get(id(value))
            # A name with "original" in it is a copy kept on purpose, like
            # dnspython's `_original_getaddrinfo`: not a mistake to report.
            if hit is not None and hit[1] is value and "original" not in attr:
                findings.append(Finding(name, attr, hit[0]))
    return findings


def warn_findings(findings: list[Finding]) -> None:
    """Warn once per finding with ``PatchWarning``."""
    for finding in findings:
        key = (finding.module, finding.attribute)
        if key not in _warned:
            _warned.add(key)
            warnings.warn(str(finding), PatchWarning, stacklevel=3)
