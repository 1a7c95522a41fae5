"""The documentation site builds as CI builds it (``mkdocs build --strict``),
and what the API reference shows is what the docstrings mean: no reST
markers (``text::``, ``:class:`X```) printed as typed."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("mkdocs", reason="the docs extra is not installed")
pytest.importorskip("griffe", reason="the docs extra is not installed")

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "docs" / "hooks"
#: reST printed as typed in a rendered page.
STRAY = re.compile(r"<p>::</p>|::</p>|:(?:class|func|meth|mod|attr|exc|data|obj):<code>")


def _hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"greenabc_docs_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(site: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, NO_MKDOCS_2_WARNING="1", **(env or {}))
    full_env.pop("GREENABC_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_rest_markers_and_roles_become_markdown() -> None:
    to_markdown = _hook("rest_docstrings").to_markdown
    text = (
        "Patched first::\n\n    python -m x\n\n"
        "::\n\n    code\n\n"
        "Spaced ::\n\n    code\n\n"
        "An :class:`greenabc.interfaces.Engine`, :func:`~greenabc.spawn`.\n"
        "Not a block::\nsame indent"
    )
    assert to_markdown(text) == (
        "Patched first:\n\n    python -m x\n\n"
        "\n    code\n\n"
        "Spaced\n\n    code\n\n"
        "An `greenabc.interfaces.Engine`, `spawn`.\n"
        "Not a block::\nsame indent"
    )
    assert to_markdown(to_markdown(text)) == to_markdown(text)  # idempotent


@pytest.mark.timeout(300)
def test_site_builds_strict_and_api_pages_show_no_rest_markers(tmp_path: Path) -> None:
    done = build(tmp_path / "site")
    assert done.returncode == 0, done.stderr[-4000:]
    pages = sorted((tmp_path / "site" / "reference").rglob("index.html"))
    assert len(pages) >= 6
    stray = {
        str(page.relative_to(tmp_path)): STRAY.findall(page.read_text())
        for page in pages
        if STRAY.search(page.read_text())
    }
    assert stray == {}
