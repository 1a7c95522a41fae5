"""mkdocs hook: the capabilities table, generated at build time from each
backend's own ``Capabilities`` (never copied by hand).

A page writes ``<!-- capabilities-table -->`` where the table goes. Every
backend registered in the ``greenabc.backends`` entry-point group gets a
column; the build fails if one of the first-party backends is missing or
broken. A third party's plugin that is installed but broken (fails to
import, its factory raises...) is listed as broken, with the first line of
its error, as ``greenabc backends --capabilities`` does: one broken plugin on
the machine must not stop the site from building.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

MARKER = "<!-- capabilities-table -->"
FIRST_PARTY = ("threads", "gevent", "eventlet")
FLAGS = {
    "is_green": "tasks are green threads of one OS thread",
    "signal_safe": "a signal handler may call into a pool",
    "can_interrupt": "kill, hard and soft timeouts reach a running task",
    "can_interrupt_blocking_calls": "a task waiting in a stdlib blocking call stops at once",
    "can_detect_blocking": "`greenabc.detect_blocking` works",
    "can_patch": "`greenabc.patch(name)` works",
}


def capabilities_table() -> str:
    import greenabc

    names = list(FIRST_PARTY) + sorted(set(greenabc.available_backends()) - set(FIRST_PARTY))
    caps: dict[str, dict[str, Any]] = {}
    broken: dict[str, str] = {}
    with warnings.catch_warnings():
        # Building a backend imports its engine (unpatched: nothing is patched here);
        # eventlet warns that it is deprecated, which the page itself explains.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        for name in names:
            try:
                caps[name] = greenabc.get_backend(name).capabilities.as_dict()
            except Exception as exc:
                if name in FIRST_PARTY:
                    raise  # ours: the page must show it
                broken[name] = (str(exc).strip().splitlines() or [repr(exc)])[0]
    head = "| capability | " + " | ".join(f"`{n}`" for n in names) + " | what it means |"
    rule = "|---" * (len(names) + 2) + "|"
    rows = [
        f"| `{flag}` | " + " | ".join(_cell(caps, name, flag) for name in names) + f" | {meaning} |"
        for flag, meaning in FLAGS.items()
    ]
    notes = []
    for name in names:
        if name in broken:
            notes.append(f"- **{name}**: broken: {_escape(broken[name])}")
        for note in caps.get(name, {}).get("notes", ()):
            notes.append(f"- **{name}**: {note}")
    return "\n".join([head, rule, *rows, "", "Each backend's own notes:", "", *notes])


def _cell(caps: dict[str, dict[str, Any]], name: str, flag: str) -> str:
    if name not in caps:
        return "broken"
    return "yes" if caps[name][flag] else "no"


def _escape(text: str) -> str:
    """An error message as Markdown text: no markup, no table break."""
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", text)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, capabilities_table())
    return markdown
