"""Patching through ``eventlet.monkey_patch``, keyed by stdlib module name.

eventlet patches by category, several modules at once: ``thread`` patches
``threading``, ``_thread`` and ``queue``; ``socket`` patches ``socket`` and
``ssl``; ``select`` patches ``select`` and ``selectors``. greenabc's options
are stdlib module names, so the two modules of one category must agree:
``patch(socket=True, ssl=False)`` is a ``PatchError``. Naming one of them
alone sets both. eventlet cannot patch ``signal`` or ``sys``: asking for
them is a ``PatchError``; leaving them out (or ``False``) is fine.

Signal handlers: a handler can run inside the hub, where a patched
``os.write`` raises "do not call blocking functions from the mainloop"
(celery#10083). Write from a handler with :meth:`EventletPatcher.signal_safe_write`
(or ``original("os", "write")``), which is the unpatched ``os.write``.
"""

from __future__ import annotations

from typing import Any

from eventlet import patcher

from greenabc.adapter import PatchError

#: greenabc option (stdlib module) -> eventlet ``monkey_patch`` category.
CATEGORIES = {
    "threading": "thread",
    "queue": "thread",
    "socket": "socket",
    "ssl": "socket",
    "select": "select",
    "selectors": "select",
    "os": "os",
    "time": "time",
    "subprocess": "subprocess",
    "builtins": "builtins",
}
#: Modules eventlet has no way to patch.
UNPATCHABLE = frozenset({"signal", "sys"})
#: eventlet leaves ``builtins`` (a green ``open``) off unless asked; so do we.
OFF_BY_DEFAULT = frozenset({"builtins"})


def _modules_of(category: str) -> list[str]:
    return sorted(name for name, cat in CATEGORIES.items() if cat == category)


class EventletPatcher:
    """``Patcher`` over ``eventlet.monkey_patch`` (see ``greenabc.interfaces.Patcher``)."""

    def __init__(self) -> None:
        self._os_write = patcher.original("os").write

    def patch(self, **options: bool) -> list[str]:
        """Patch the categories the options name (default: all but
        ``builtins``); returns the stdlib module names now patched. Patching
        cannot be undone: asking to leave out a module already patched is a
        ``PatchError``. Idempotent."""
        wanted = self._categories(options)
        named = {CATEGORIES[name] for name in options if name in CATEGORIES}
        undo = sorted(cat for cat in named if not wanted[cat] and self._patched(cat))
        if undo:
            names = ", ".join(f"{name}=False" for cat in undo for name in _modules_of(cat))
            raise PatchError(
                f"cannot honour {names}: eventlet has already patched"
                f" {', '.join(undo)}, and patching cannot be undone"
            )
        patcher.monkey_patch(psycopg=False, MySQLdb=False, **wanted)
        return sorted(name for name in CATEGORIES if self.is_patched(name))

    def _categories(self, options: dict[str, bool]) -> dict[str, bool]:
        for name, on in options.items():
            if name in UNPATCHABLE and on:
                raise PatchError(
                    f"eventlet cannot patch {name!r}; pass {name}=False or leave it out"
                    " (use the gevent backend if you need it patched)"
                )
        wanted: dict[str, bool] = {}
        for name, category in CATEGORIES.items():
            if name not in options:
                continue
            on = bool(options[name])
            if wanted.setdefault(category, on) != on:
                pair = " and ".join(_modules_of(category))
                raise PatchError(
                    f"eventlet patches {pair} together (its {category!r} category):"
                    f" give them the same value, got {name}={on} against the other"
                )
        for name, category in CATEGORIES.items():
            wanted.setdefault(category, name not in OFF_BY_DEFAULT)
        return wanted

    @staticmethod
    def _patched(category: str) -> bool:
        return bool(patcher.is_monkey_patched(category))

    def is_patched(self, module: str) -> bool:
        """Whether eventlet has patched the stdlib module *module* (by name)."""
        category = CATEGORIES.get(module)
        return category is not None and self._patched(category)

    def original(self, module: str, name: str) -> Any:
        """The unpatched ``module.name``, whether or not it is patched."""
        return getattr(patcher.original(module), name)

    def signal_safe_write(self, fd: int, data: bytes) -> int:
        """``os.write`` as it was before patching: safe in a signal handler,
        which may run inside the hub (celery#10083)."""
        written: int = self._os_write(fd, data)
        return written
