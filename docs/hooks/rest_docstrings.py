"""Griffe extension: greenabc's docstrings are reST (Sphinx style, what
``help()`` and IDEs show); mkdocstrings renders them as Markdown, where a
literal-block marker (``text::``) and a role (``:class:`Engine```) would show
as typed. Each docstring is given to Markdown as it is meant to be read:
``text:`` before an indented block (a code block in Markdown too), a ``::``
line alone dropped, a role's target as code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const|ref):`(?P<target>[^`]+)`"
)


def _code(match: re.Match[str]) -> str:
    target = match["target"]
    if target.startswith("~"):  # Sphinx: show the last component only
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def to_markdown(text: str) -> str:
    """*text*, a reST docstring, with its literal-block markers and roles in
    Markdown's terms."""
    lines = ROLE.sub(_code, text).splitlines()
    out = []
    for number, line in enumerate(lines):
        stripped = line.rstrip()
        if stripped.endswith("::"):
            following = next((n for n in lines[number + 1 :] if n.strip()), None)
            if following is not None and _indent(following) > _indent(line):
                head = stripped[:-2]
                if not head.strip():
                    continue  # "::" alone introduces the block: nothing to show
                # "text::" reads "text:"; "text ::" reads "text" (reST's rule).
                stripped = head.rstrip() if head.endswith(" ") else head + ":"
        out.append(stripped)
    return "\n".join(out)


class RestDocstrings(griffe.Extension):
    def on_object(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        self.on_object(obj=pkg)  # a top-level package is not among the objects
