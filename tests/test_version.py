"""One version, one place: greenabc/__init__.py.

The core's distribution reads its version from there (hatch's version source);
the adapters state theirs in their pyproject.toml, must agree with it, and pin
a core range that includes it. Read from the source files, so the check holds
whatever happens to be installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import greenabc

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest brings tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ("gevent", "eventlet")


def _pyproject(path: Path) -> dict[str, object]:
    with (path / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def test_core_version_comes_from_the_package() -> None:
    data = _pyproject(ROOT)
    project = data["project"]
    assert isinstance(project, dict)
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert data["tool"]["hatch"]["version"]["path"] == "greenabc/__init__.py"  # type: ignore[index]
    Version(greenabc.__version__)  # a valid version


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapter_version_and_pin_agree_with_the_core(name: str) -> None:
    project = _pyproject(ROOT / "adapters" / name)["project"]
    assert isinstance(project, dict)
    assert project["version"] == greenabc.__version__, (
        f"adapters/{name}/pyproject.toml says {project['version']},"
        f" greenabc.__version__ is {greenabc.__version__}"
    )
    pins = [Requirement(r) for r in project["dependencies"]]
    core = [r for r in pins if r.name == "greenabc"]
    assert len(core) == 1
    assert core[0].specifier, "the adapter must pin a compatible core range"
    assert greenabc.__version__ in core[0].specifier
    # The range stops before the next minor release (0.x: a minor may break).
    assert any(s.operator == "<" for s in core[0].specifier)


def test_adapter_module_versions_agree() -> None:
    for path in (ROOT / "adapters").glob("*/greenabc_*/__init__.py"):
        found = re.search(r'^__version__ = "([^"]+)"', path.read_text(), re.M)
        if found:
            assert found.group(1) == greenabc.__version__, path


@pytest.mark.parametrize("name", ADAPTERS)
def test_adapters_ship_the_license(name: str) -> None:
    project = _pyproject(ROOT / "adapters" / name)["project"]
    assert isinstance(project, dict)
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "adapters" / name / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()
