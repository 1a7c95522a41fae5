"""Patching over ``gevent.monkey``, keyed by standard-library module name."""

from __future__ import annotations

from typing import Any

from gevent import monkey

from greenabc.adapter import PATCHABLE_MODULES

#: greenabc's option (a stdlib module name) -> ``patch_all``'s keyword.
#: ``select`` and ``selectors`` share ``patch_all(select=...)``; see ``patch``.
_PATCH_ALL_KEYWORDS = {
    "builtins": "builtins",
    "os": "os",
    "queue": "queue",
    "signal": "signal",
    "socket": "socket",
    "ssl": "ssl",
    "subprocess": "subprocess",
    "sys": "sys",
    "threading": "thread",
    "time": "time",
}


class GeventPatcher:
    """``patch(**options)`` over ``gevent.monkey.patch_all`` (see
    ``greenabc.interfaces.Patcher``). Options are stdlib module names; one not
    given keeps ``patch_all``'s default (all on but ``sys``). ``socket`` also
    decides gevent's ``dns``. On Python 3 gevent patches nothing for ``sys``
    and ``builtins``, so they are never reported patched."""

    def patch(self, **options: bool) -> list[str]:
        unknown = sorted(set(options) - PATCHABLE_MODULES)
        if unknown:
            raise ValueError(
                f"unknown patch options {unknown}: options are standard-library module"
                f" names, one of {sorted(PATCHABLE_MODULES)}"
            )
        kwargs = {
            keyword: bool(options[name])
            for name, keyword in _PATCH_ALL_KEYWORDS.items()
            if name in options
        }
        if "socket" in options:
            kwargs["dns"] = bool(options["socket"])
        select = bool(options.get("select", True))
        selectors = bool(options.get("selectors", True))
        kwargs["select"] = select and selectors
        # Idempotent for the same arguments (for different ones, gevent
        # patches the union and warns).
        monkey.patch_all(**kwargs)
        if select and not selectors and not self.is_patched("select"):
            monkey.patch_select()
        if selectors and not select and not self.is_patched("selectors"):
            monkey.patch_selectors()
        return self.patched()

    def patched(self) -> list[str]:
        """The stdlib module names (of greenabc's options) that are patched."""
        return sorted(name for name in PATCHABLE_MODULES if self.is_patched(name))

    def is_patched(self, module: str) -> bool:
        return bool(monkey.is_module_patched(module))

    def original(self, module: str, name: str) -> Any:
        """The object *module.name* held before patching (the current one if
        it was never patched)."""
        return monkey.get_original(module, name)
