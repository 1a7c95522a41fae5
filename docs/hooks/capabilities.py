"""mkdocs hook: the capabilities table, generated at build time from each
backend's own ``Capabilities`` (never copied by hand).

A page writes ``<!-- capabilities-table -->`` where the table goes. Every
backend registered in the ``greenabc.backends`` entry-point group gets a
column; the build fails if one of the first-party backends is missing.
"""

from __future__ import annotations

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
    caps = {}
    with warnings.catch_warnings():
        # Building a backend imports its engine (unpatched: nothing is patched here);
        # eventlet warns that it is deprecated, which the page itself explains.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        for name in names:
            caps[name] = greenabc.get_backend(name).capabilities.as_dict()
    head = "| capability | " + " | ".join(f"`{n}`" for n in names) + " | what it means |"
    rule = "|---" * (len(names) + 2) + "|"
    rows = [
        f"| `{flag}` | "
        + " | ".join("yes" if caps[n][flag] else "no" for n in names)
        + f" | {meaning} |"
        for flag, meaning in FLAGS.items()
    ]
    notes = []
    for name in names:
        for note in caps[name]["notes"]:
            notes.append(f"- **{name}**: {note}")
    return "\n".join([head, rule, *rows, "", "Each backend's own notes:", "", *notes])


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, capabilities_table())
    return markdown
