"""Every backend, the built-in one included, is written against
``greenabc.adapter`` and ``greenabc.interfaces`` alone, so the built-in one
proves the public adapter API is enough; and ``greenabc.adapter`` exports
only what adapters use."""

from __future__ import annotations

import ast
from pathlib import Path

from greenabc import adapter

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {"greenabc.adapter", "greenabc.interfaces"}
#: Exported for thread engines that do not subclass OSThreadEngineBase
#: (whose default ``interrupt`` calls it): none of ours needs it directly.
FOR_OTHER_THREAD_ENGINES = {"send_async_interrupt"}


def backend_modules() -> list[Path]:
    found = [ROOT / "greenabc" / "_threads.py"]
    for package in ("gevent/greenabc_gevent", "eventlet/greenabc_eventlet"):
        found += sorted((ROOT / "adapters" / package).rglob("*.py"))
    return found


def greenabc_imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for each import of greenabc in *path*; relative
    imports in greenabc/_threads.py resolved against the package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level and path.parent.name == "greenabc":
                module = "greenabc" + ("." + module if module else "")
            elif node.level:
                continue  # within the adapter's own package
            found.append((module, [alias.name for alias in node.names]))
    return [(m, names) for m, names in found if m.split(".")[0] == "greenabc"]


def test_backends_import_only_the_adapter_api() -> None:
    modules = backend_modules()
    assert len(modules) > 8
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in modules
        for module, _ in greenabc_imports(path)
        if module not in ALLOWED
    ]
    assert wrong == []


def test_the_adapter_module_exports_what_backends_use() -> None:
    used = {
        name
        for path in backend_modules()
        for module, names in greenabc_imports(path)
        if module == "greenabc.adapter"
        for name in names
    }
    assert used <= set(adapter.__all__)
    assert set(adapter.__all__) - used == FOR_OTHER_THREAD_ENGINES


def test_the_guard_sees_private_imports(tmp_path: Path) -> None:
    module = tmp_path / "greenabc" / "_threads.py"
    module.parent.mkdir()
    module.write_text(
        "import greenabc._core._task\n"
        "from greenabc import PatchError\n"
        "from ._core._primitives import poll_fd\n"
        "from .adapter import EngineBackend\n"
    )
    assert [m for m, _ in greenabc_imports(module)] == [
        "greenabc._core._task",
        "greenabc",
        "greenabc._core._primitives",
        "greenabc.adapter",
    ]
