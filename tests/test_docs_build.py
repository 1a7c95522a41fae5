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


def _broken_plugin(site: Path) -> None:
    """An installed third-party backend that fails to import, found through
    its entry point (as tests/naive_engine/site installs a working one)."""
    dist = site / "greenabc_mine-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: greenabc-mine\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[greenabc.backends]\nmine = greenabc_mine:backend\n")
    (site / "greenabc_mine.py").write_text('raise ImportError("mine is broken on purpose")\n')


@pytest.mark.timeout(300)
def test_site_builds_with_a_broken_plugin_installed_and_lists_it_broken(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    _broken_plugin(plugins)
    path = os.pathsep.join(p for p in [str(plugins), os.environ.get("PYTHONPATH", "")] if p)
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("GREENABC_BACKEND", None)
    cli = subprocess.run(
        [sys.executable, "-m", "greenabc", "backends", "--capabilities"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr  # the CLI's verdict, for reference
    (line,) = [line for line in cli.stdout.splitlines() if line.startswith("mine ")]
    reason = line.removeprefix("mine (broken: ").removesuffix(")")
    assert "mine is broken on purpose" in reason

    done = build(tmp_path / "site", {"PYTHONPATH": path})
    assert done.returncode == 0, done.stderr[-4000:]
    page = (tmp_path / "site" / "choosing-a-backend" / "index.html").read_text()
    assert "<th><code>mine</code></th>" in page
    assert page.count("<td>broken</td>") == len(_hook("capabilities").FLAGS)
    assert f"<li><strong>mine</strong>: broken: {reason}</li>" in page.replace("&#39;", "'")
    for name in ("threads", "gevent", "eventlet"):  # the others are still there
        assert f"<th><code>{name}</code></th>" in page
