"""The two forms of the core: compiled by mypyc, or its Python sources.

Which one runs is said by ``greenabc --version``; ``GREENABC_PURE_PYTHON=1``
chooses the sources at run time; a compiled module built from other sources
than those beside it is reported; and a machine without a C compiler builds
a pure-Python wheel that works.
"""

from __future__ import annotations

import ast
import functools
import gc
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
import weakref
import zipfile
from pathlib import Path
from typing import Any

import pytest

import greenabc
from greenabc._core import _compiled

ROOT = Path(__file__).resolve().parent.parent
#: What a wheel is built from (the rest of the checkout is not needed).
SOURCES = ("greenabc", "hatch_build.py", "pyproject.toml", "README.md", "LICENSE")


def _python(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


FILES = (
    "import importlib, greenabc._core._compiled as c;"
    " print(sorted(importlib.import_module(f'greenabc._core.{m}').__file__.rsplit('.', 1)[-1]"
    " for m in c.COMPILED))"
)
VERSION = "from greenabc._cli import main; main(['--version'])"


def test_pure_python_switch_runs_every_compiled_module_from_its_source() -> None:
    suffixes = _python(FILES, GREENABC_PURE_PYTHON="1")
    assert suffixes == str(["py"] * len(_compiled.COMPILED))
    version = _python(VERSION, GREENABC_PURE_PYTHON="1")
    assert "core pure Python (GREENABC_PURE_PYTHON=1)" in version


def test_version_says_which_form_runs() -> None:
    env = {"GREENABC_PURE_PYTHON": ""}
    suffixes = _python(FILES, **env)
    version = _python(VERSION, **env)
    if suffixes == str(["py"] * len(_compiled.COMPILED)):
        assert "core pure Python" in version, version
    else:
        assert "py" not in suffixes, f"a part of the core is compiled, a part not: {suffixes}"
        assert "core compiled (mypyc" in version, version


def test_compiled_modules_built_from_other_sources_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "_build.json"
    digests = {name: _compiled._source_hash(name) for name in _compiled.COMPILED}
    del digests["_task"]  # a module the build did not compile
    record.write_text(json.dumps({"compiler": "mypyc", "sources": {**digests, "_pool": "0" * 64}}))
    monkeypatch.setattr(_compiled, "BUILD_RECORD", str(record))
    monkeypatch.delenv(_compiled.PURE_PYTHON_ENV, raising=False)
    assert _compiled.stale_modules() == ["_pool", "_task"]
    editable = tmp_path / "_build_editable"
    monkeypatch.setattr(_compiled, "EDITABLE_RECORD", str(editable))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compiled.choose()  # a wheel's sources cannot change: not checked at import
    editable.write_text("")
    with pytest.warns(RuntimeWarning, match=r"\(_pool, _task changed.* \(pip install -e \."):
        _compiled.choose()


def test_a_build_record_of_these_sources_reports_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = {name: _compiled._source_hash(name) for name in _compiled.COMPILED}
    record = tmp_path / "_build.json"
    record.write_text(json.dumps({"compiler": "mypyc", "sources": digests}))
    monkeypatch.setattr(_compiled, "BUILD_RECORD", str(record))
    assert _compiled.stale_modules() == []


def _noop() -> None:
    return None


def test_a_dead_tasks_weak_references_die_with_it() -> None:
    # mypyc never clears a native object's weakrefs: the build adds it
    # (hatch_build.py); without it this reads freed memory.
    called = []
    with greenabc.get_backend("threads").create_pool(2) as pool:
        task = pool.spawn(_noop)
        task.get(10)
        ref = weakref.ref(task, called.append)
    del task
    gc.collect()
    assert ref() is None
    assert called == [ref]


@functools.cache
def _compiled_types() -> dict[Any, Any]:
    """mypy's type of every expression of the compiled modules (and of the
    modules they import)."""
    from mypy import build
    from mypy.modulefinder import BuildSource
    from mypy.options import Options

    options = Options()
    options.export_types = True
    options.incremental = False
    options.preserve_asts = True
    sources = [
        BuildSource(str(ROOT / "greenabc" / "_core" / f"{name}.py"), f"greenabc._core.{name}")
        for name in _compiled.COMPILED
    ]
    return dict(build.build(sources, options).types)


def _reads_typed_none() -> list[str]:
    """Reads of a compiled class's attribute that mypy types ``None`` (an
    ``X | None`` attribute after an ``is not None`` test that returned):
    mypyc checks the value it reads against that type."""
    from mypy.nodes import MemberExpr
    from mypy.types import Instance, NoneType, get_proper_type

    types = _compiled_types()
    found: list[str] = []
    for expr, typ in types.items():
        if not isinstance(expr, MemberExpr):
            continue
        owner = get_proper_type(types.get(expr.expr))
        if (
            isinstance(owner, Instance)
            and owner.type.module_name.startswith("greenabc._core.")
            and isinstance(get_proper_type(typ), NoneType)
        ):
            found.append(f"{owner.type.module_name}:{expr.line} {owner.type.name}.{expr.name}")
    return sorted(found)


def _adapter_calls_typed_none() -> list[str]:
    """Calls from compiled code of a method an adapter supplies (a member of
    one of :data:`ADAPTER_PROTOCOLS`) typed ``-> None``: mypyc checks that
    the call returned None, where an engine may well return something."""
    from mypy.nodes import CallExpr, MemberExpr
    from mypy.types import Instance, NoneType, get_proper_type

    # mypy's expressions do not say their module: matched to the compiled
    # modules' own calls by line, column and method name.
    typed_none: dict[tuple[int, int, str], str] = {}
    types = _compiled_types()
    for expr, typ in types.items():
        if isinstance(expr, CallExpr) and isinstance(expr.callee, MemberExpr):
            owner = get_proper_type(types.get(expr.callee.expr))
            if (
                isinstance(owner, Instance)
                and owner.type.fullname in ADAPTER_PROTOCOLS
                and isinstance(get_proper_type(typ), NoneType)
            ):
                typed_none[(expr.line, expr.column, expr.callee.name)] = owner.type.name
    found: list[str] = []
    for name in _compiled.COMPILED:
        path = ROOT / "greenabc" / "_core" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner_name = typed_none.get((node.lineno, node.col_offset, node.func.attr))
                if owner_name is not None:
                    found.append(f"{name}:{node.lineno} {owner_name}.{node.func.attr}()")
    return sorted(found)


#: What an adapter implements: the Engine and what its methods return.
ADAPTER_PROTOCOLS = {
    f"greenabc.interfaces.{name}"
    for name in (
        "Engine", "Cancellable", "CoreQueue", "CoreSemaphore", "Portal", "SyncEvent",
        "SyncLock", "SyncSemaphore", "SyncCondition", "SyncQueue",
    )
}  # fmt: skip


@pytest.mark.timeout(120)
def test_no_compiled_read_of_an_attribute_is_typed_none() -> None:
    # Task.wait re-read _outcome after testing it: typed None there, the
    # compiled read raised "TypeError: None object expected; got str" once
    # the task was decided (a gunicorn worker's shutdown died of it).
    assert _reads_typed_none() == []


@pytest.mark.timeout(120)
def test_no_compiled_call_of_an_adapters_method_expects_none() -> None:
    # An engine whose call_later() handle's cancel() returned True stopped the
    # compiled core's deadline heap: "TypeError: None object expected; got bool".
    # The protocols type what the core ignores ``-> object``.
    assert _adapter_calls_typed_none() == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("pure", ["", "1"], ids=["installed form", "pure Python"])
def test_an_engine_may_return_values_the_core_ignores(pure: str) -> None:
    # Such an engine's cancel() made the compiled deadline heap raise "None
    # object expected; got bool" and its timeout scopes never expired.
    done = subprocess.run(
        [sys.executable, "-m", "tests._engine_returning_values"],
        cwd=ROOT,
        env={**os.environ, "GREENABC_PURE_PYTHON": pure},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr
    assert "greenabc" not in done.stderr, done.stderr  # no worker failed, none overran


def _wheel(tmp_path: Path, **env: str) -> Path:
    """Build a wheel of a copy of the checkout (a build cleans what it
    compiled in place: the checkout's own must stay)."""
    tree = tmp_path / "src"
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd")
            )
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy2(source, tree / name)
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.mark.timeout(600)
def test_without_a_c_compiler_the_wheel_is_pure_python(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, CC="/nonexistent/cc", GREENABC_PURE_PYTHON="")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith((".so", ".pyd"))]
    assert "greenabc/_core/_pool.py" in names
    # Installed alone, it runs and says what it is.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
        timeout=120,
    )
    code = (
        "import greenabc, greenabc._cli as c; print(greenabc.__file__);"
        " greenabc.spawn(abs, -1).get(10); c.main(['-V'])"
    )
    # -S: no .pth file, so not the checkout's editable greenabc; its
    # dependencies from this environment's site-packages.
    path = os.pathsep.join([str(target), sysconfig.get_paths()["purelib"]])
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=tmp_path,  # not the checkout's directory either
        env={**os.environ, "PYTHONPATH": path, "GREENABC_PURE_PYTHON": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith(str(target)), out  # this wheel's greenabc, not the checkout's
    assert ", core pure Python (Python" in out, out


@pytest.mark.timeout(600)
def test_with_a_c_compiler_the_wheel_carries_the_compiled_core(tmp_path: Path) -> None:
    if _compiled.pure_python_requested() or not shutil.which("cc"):
        pytest.skip("no C compiler here, or GREENABC_PURE_PYTHON is set: the pure form is tested")
    wheel = _wheel(tmp_path, GREENABC_REQUIRE_COMPILED="1")
    assert "-py3-none-any" not in wheel.name, wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    compiled = {n.split("/")[-1].split(".")[0] for n in names if n.endswith((".so", ".pyd"))}
    assert compiled >= set(_compiled.COMPILED), compiled
    assert "greenabc/_core/_build.json" in names
    assert "greenabc/_core/_build_editable" not in names  # checked at import in a checkout only
    assert "greenabc/_core/_pool.py" in names  # the sources too, for GREENABC_PURE_PYTHON
