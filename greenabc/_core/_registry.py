"""The registry: backends by name, from entry points or registered at run time.

The entry-point group is read once, on the first look-up; names are matched
before anything is loaded, so a plugin that is not chosen is never imported.
"""

from __future__ import annotations

import importlib
import os
import re
import warnings
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Union

from ..interfaces import Backend
from ._detect import current_backend
from ._exceptions import (
    BackendConflictWarning,
    BackendUnavailableError,
    GreenabcError,
    UnknownBackendError,
)
from ._protocol import ProtocolMismatch, check_backend

ENTRY_POINT_GROUP = "greenabc.backends"
ENV_BACKEND = "GREENABC_BACKEND"
DEFAULT_BACKEND = "threads"

#: First-party backends that ship separately: name -> distribution to install.
INSTALL_HINTS = {"gevent": "greenabc-gevent", "eventlet": "greenabc-eventlet"}
#: Used when greenabc runs without its own metadata (e.g. from a source tree).
_BUILTIN = {"threads": "greenabc._threads:backend"}
#: The distribution that owns a first-party name: it wins a conflict wherever
#: it is on sys.path.
_OWNERS = {"threads": "greenabc", **INSTALL_HINTS}

Factory = Callable[[], Backend]
Spec = Union[Factory, str, metadata.EntryPoint]


class _Registry:
    def __init__(self) -> None:
        self._runtime: dict[str, Factory | str] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None
        self._loaded: dict[str, Backend] = {}

    def entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self._entry_points is None:
            self._entry_points = _first_of_each(metadata.entry_points(group=ENTRY_POINT_GROUP))
        return self._entry_points

    def spec(self, name: str) -> Spec | None:
        if name in self._runtime:
            return self._runtime[name]
        return self.entry_points().get(name) or _BUILTIN.get(name)

    def names(self) -> set[str]:
        return set(self._runtime) | set(self.entry_points()) | set(_BUILTIN)

    def get(self, name: str) -> Backend:
        backend = self._loaded.get(name)
        if backend is None:
            backend = self._loaded.setdefault(name, self._load(name))
        return backend

    def _load(self, name: str) -> Backend:
        spec = self.spec(name)
        if spec is None:
            raise self._missing(name)
        origin = _describe(name, spec)
        try:
            factory = _resolve(spec)
        except ImportError as exc:
            raise _unimportable(name, spec, origin, exc) from exc
        except Exception as exc:
            raise GreenabcError(f"backend {origin} failed to import: {exc!r}") from exc
        backend: object = None  # until the factory returns
        try:
            backend = factory()
            check_backend(backend)  # an EngineBackend has checked its engine too
        except ProtocolMismatch as exc:  # the one error a version change gives
            if backend is not None and not hasattr(backend, "create_pool"):
                raise GreenabcError(
                    f"backend {origin}: its factory returned {backend!r}, which is not a"
                    " greenabc Backend (see greenabc.interfaces.Backend)"
                ) from None
            raise GreenabcError(
                f"backend {origin}: {exc}: {exc.upgrade(_owner(name, spec))}"
            ) from None
        except ImportError as exc:  # a factory that imports its engine only when called
            raise _unimportable(name, spec, origin, exc) from exc
        except Exception as exc:
            raise GreenabcError(f"backend {origin}: its factory raised {exc!r}") from exc
        checked: Backend = backend
        return checked

    def _missing(self, name: str) -> GreenabcError:
        if name in INSTALL_HINTS:
            return BackendUnavailableError(
                f"the {name!r} backend is not installed: pip install {INSTALL_HINTS[name]}"
            )
        known = ", ".join(sorted(self.names())) or "none"
        hints = ", ".join(
            f"{n} (pip install {d})" for n, d in INSTALL_HINTS.items() if n not in self.names()
        )
        more = f"; not installed: {hints}" if hints else ""
        return UnknownBackendError(f"unknown backend {name!r}; available: {known}{more}")

    def register(self, name: str, factory: Factory | str, replace: bool) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a backend name must be a non-empty str, got {name!r}")
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise TypeError(
                f"factory must be a callable or a 'module:attr' string, got {factory!r}"
            )
        if not replace and name in self.names():
            raise ValueError(
                f"a backend named {name!r} already exists; pass replace=True to replace it"
            )
        self._runtime[name] = factory
        self._loaded.pop(name, None)

    def available(self) -> list[str]:
        viable = set(self._runtime) | set(_BUILTIN)
        viable.update(name for name, ep in self.entry_points().items() if _installed(ep))
        return sorted(viable)


def _first_of_each(found: Iterable[metadata.EntryPoint]) -> dict[str, metadata.EntryPoint]:
    """One entry point per name: the owner's for a first-party name, else the
    first on sys.path. Warns for each other distribution claiming the name."""
    chosen: dict[str, metadata.EntryPoint] = {}
    others: dict[str, list[metadata.EntryPoint]] = {}
    for ep in found:
        first = chosen.setdefault(ep.name, ep)
        if first is ep or (_dist(first) == _dist(ep) and first.value == ep.value):
            continue
        winner, loser = (ep, first) if _dist(ep) == _OWNERS.get(ep.name) else (first, ep)
        chosen[ep.name] = winner
        others.setdefault(ep.name, []).append(loser)
    for name, losers in others.items():
        winner = chosen[name]
        for ep in losers:
            warnings.warn(
                f"two distributions register the greenabc backend {name!r}:"
                f" {_dist(winner)!r} ({winner.value}) and {_dist(ep)!r} ({ep.value});"
                f" using the one from {_dist(winner)!r}. To use the other:"
                f" greenabc.register_backend({name!r}, {ep.value!r}, replace=True)",
                BackendConflictWarning,
                stacklevel=2,
            )
    return chosen


def _dist(ep: metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "an unknown distribution"


def _unimportable(name: str, spec: Spec, origin: str, exc: ImportError) -> GreenabcError:
    """The error for a backend whose import failed, naming what to install:
    the missing module if it is not the plugin's own (an adapter installed
    without its engine), else the adapter's distribution if it is first-party."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    own = _module_of(spec)
    if missing and (own is None or missing.partition(".")[0] != own.partition(".")[0]):
        return BackendUnavailableError(
            f"backend {origin} failed to import: {exc}."
            f" Install what it needs: pip install {missing.partition('.')[0]}"
        )
    if name in INSTALL_HINTS:
        return BackendUnavailableError(
            f"backend {origin} failed to import: {exc}."
            f" Install it with: pip install {INSTALL_HINTS[name]}"
        )
    return GreenabcError(f"backend {origin} failed to import: {exc!r}")


def _module_of(spec: Spec) -> str | None:
    if isinstance(spec, metadata.EntryPoint):
        return spec.module
    if isinstance(spec, str):
        return spec.partition(":")[0]
    return getattr(spec, "__module__", None)


def _owner(name: str, spec: Spec) -> str:
    """Who to upgrade: the distribution that provides the backend."""
    if isinstance(spec, metadata.EntryPoint) and spec.dist is not None:
        return f"the distribution {spec.dist.name!r}"
    if name in INSTALL_HINTS:
        return f"the distribution {INSTALL_HINTS[name]!r}"
    module = _module_of(spec)
    return f"the adapter that provides it (module {module!r})" if module else "its adapter"


def _resolve(spec: Spec) -> Factory:
    if isinstance(spec, metadata.EntryPoint):
        loaded: Factory = spec.load()
        return loaded
    if isinstance(spec, str):
        module_name, _, attr = spec.partition(":")
        obj: object = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        if not callable(obj):
            raise TypeError(f"{spec!r} is not callable")
        return obj
    return spec


def _describe(name: str, spec: Spec) -> str:
    if isinstance(spec, metadata.EntryPoint):
        return f"{name!r} (entry point {spec.value!r} of distribution {_dist(spec)!r})"
    if isinstance(spec, str):
        return f"{name!r} ({spec!r})"
    return f"{name!r} ({getattr(spec, '__qualname__', spec)!r}, registered at run time)"


_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _installed(ep: metadata.EntryPoint) -> bool:
    """True if the plugin's distribution has its requirements installed,
    judged from metadata alone: nothing is imported."""
    if ep.dist is None:
        return True
    for requirement in ep.dist.requires or ():
        if "extra ==" in requirement.replace("extra==", "extra =="):
            continue
        match = _REQUIREMENT_NAME.match(requirement)
        if match is None:
            continue
        try:
            metadata.distribution(match.group())
        except metadata.PackageNotFoundError:
            return False
    return True


_registry = _Registry()


_env_backend: list[str | None] = []  # $GREENABC_BACKEND, read once
_default: list[Backend] = []  # the default backend, once it can no longer change


def get_backend(name: str | None = None) -> Backend:
    """The backend called *name*; with None, ``$GREENABC_BACKEND`` (read at the
    first such call), else the backend that is patched, else ``"threads"``."""
    if name is None:
        if _default:
            return _default[0]
        if not _env_backend:
            _env_backend.append(os.environ.get(ENV_BACKEND) or None)
        chosen = _env_backend[0] or current_backend()
        if chosen is not None:  # neither changes again: keep the answer
            _default.append(_registry.get(chosen))
            return _default[0]
        name = DEFAULT_BACKEND  # until an engine is patched
    elif not isinstance(name, str):
        raise TypeError(f"a backend name must be a str, got {type(name).__name__}: {name!r}")
    backend = _registry._loaded.get(name)
    return backend if backend is not None else _registry.get(name)


def register_backend(name: str, factory: Factory | str, *, replace: bool = False) -> None:
    """Register a backend at run time: *factory* is a zero-argument callable
    returning a Backend, or a ``"module:attr"`` string naming one."""
    _registry.register(name, factory, replace)
    _default.clear()


def available_backends() -> list[str]:
    """Names of the backends installed and viable here; imports no engine."""
    return _registry.available()
