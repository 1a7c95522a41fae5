"""Every install line in the docs works from a checkout: greenabc is not on
the package index yet, so a line that installs it from there (``pip install
'greenabc[celery]'``) fails for whoever follows it. A command installs from
the checkout (``pip install -e '.[celery]'``); the index name appears only in
a note that says it is for once greenabc is published, as the README does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "adapters").glob("*/README.md")),
]
#: `pip install` and its arguments, up to a comment, a code span's end, the
#: next command (`&&`, `;`, `|`) or the line's end.
INSTALL = re.compile(r"pip install(?P<args>[^#`\n;&|]*)")
#: A distribution of this repository named as on the index: greenabc, greenabc-gevent,
#: greenabc-eventlet, with or without extras and quotes.
INDEX_NAME = re.compile(r"""^['"]?greenabc(-gevent|-eventlet)?(\[[^\]]*\])?['"]?$""")


def _from_index(args: str) -> bool:
    return any(INDEX_NAME.match(word) for word in args.split())


def _lines(path: Path) -> list[tuple[int, str, str]]:
    """(line number, line, what it is read with): a code line alone (its
    comment may carry the note), a prose line with its whole paragraph."""
    found = []
    lines = path.read_text().splitlines()
    in_code = False
    paragraph: list[int] = []

    def flush() -> None:
        text = " ".join(lines[i] for i in paragraph)
        found.extend((i + 1, lines[i], text) for i in paragraph)
        paragraph.clear()

    for number, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            flush()
            in_code = not in_code
        elif in_code:
            found.append((number + 1, line, ""))
        elif line.strip():
            paragraph.append(number)
        else:
            flush()
    flush()
    return found


def _offenders(path: Path) -> list[str]:
    bad = []
    for number, line, paragraph in _lines(path):
        for match in INSTALL.finditer(line):
            if not _from_index(match["args"]):
                continue
            if paragraph and "published" in paragraph:
                continue  # prose that says "once published, ..."
            command = line.split("#", 1)[0]
            if not paragraph and match.start() >= len(command) and "published" in line:
                continue  # the code line's note: "# once published: pip install ..."
            bad.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return bad


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_install_lines_work_from_a_checkout(path: Path) -> None:
    assert _offenders(path) == []


def test_the_check_catches_an_index_install(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Install it:\n\n"
        "```sh\n"
        "pip install 'greenabc[celery]'          # celery[redis] >= 5.3\n"
        "pip install -e '.[celery]'   # once published: pip install 'greenabc[celery]'\n"
        "```\n\n"
        "The extra: `pip install greenabc-gevent`.\n\n"
        "Once published: `pip install greenabc`.\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _offenders(page) == [
            "page.md:4: pip install 'greenabc[celery]'          # celery[redis] >= 5.3",
            "page.md:8: The extra: `pip install greenabc-gevent`.",
        ]
    finally:
        ROOT = saved
