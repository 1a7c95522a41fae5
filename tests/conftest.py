from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

RunPython = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_python(tmp_path: Path) -> RunPython:
    """Run a snippet in a fresh interpreter (optionally with extra sys.path
    entries) and return the completed process."""

    def run(
        code: str, *paths: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import os

        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GREENABC_")}
        full_env.update(env or {})
        if paths:
            full_env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=60,
            env=full_env,
            cwd=tmp_path,
        )

    return run


@pytest.fixture
def make_plugin(tmp_path: Path) -> Callable[..., Path]:
    """Install a fake distribution with a ``greenabc.backends`` entry point into
    a directory (real metadata, read by importlib.metadata); returns it."""

    def make(
        dist: str,
        entry_points: dict[str, str],
        modules: dict[str, str],
        requires: tuple[str, ...] = (),
    ) -> Path:
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {dist}", "Version: 1.0"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        (info / "METADATA").write_text("\n".join(lines) + "\n")
        eps = "\n".join(f"{name} = {value}" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[greenabc.backends]\n{eps}\n")
        for name, source in modules.items():
            (site / f"{name}.py").write_text(textwrap.dedent(source))
        return site

    return make
