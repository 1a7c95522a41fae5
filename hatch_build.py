"""The wheel's build hook: compile the core's hot modules with mypyc.

The modules named by ``greenabc._core._compiled.COMPILED`` are compiled
from their own sources where a C compiler and Python's headers are found;
otherwise, or with ``GREENABC_PURE_PYTHON=1``, the wheel is pure Python and
says why in the build's output. ``GREENABC_REQUIRE_COMPILED=1`` turns a
failed compilation into a failed build (for wheel builders and CI). The
compiled modules sit beside their sources (an editable install runs them
in place), with ``_build.json`` recording what was compiled from what.
docs/design.md ("The compiled core") says why mypyc and what it costs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CORE = Path("greenabc", "_core")
#: What the compilation leaves in the tree: the modules and mypyc's shared
#: library for the group (``greenabc/_core__mypyc...``).
ARTIFACTS = ("greenabc/_core/*.so", "greenabc/_core/*.pyd", "greenabc/_core__mypyc*")
RECORD = "greenabc/_core/_build.json"
#: Only an editable build writes it: greenabc then checks its sources against
#: the record at import (a wheel's cannot change, and is not checked).
EDITABLE = "greenabc/_core/_build_editable"

# mypyc (1.x-2.x) sets up weak references for a native class with a Python
# base (Task, a Generic) but never clears them when the object dies, so a
# weakref outlives its object. The same line CPython's own deallocator
# has, added after untracking, fixes it (twice is harmless).
_UNTRACK = "PyObject_GC_UnTrack(self);\n"
_CLEAR_WEAKREFS = (
    _UNTRACK + "if (Py_TYPE(self)->tp_weaklistoffset != 0)"
    " PyObject_ClearWeakRefs((PyObject *)self);\n"
)

_COMPILE = """
import sys
from mypyc.build import mypycify
from setuptools import setup

root, temp, untrack, clear, *args = sys.argv[1:]
extensions = mypycify(args, opt_level="3", group_name="greenabc._core", target_dir=temp)
patched = 0
for extension in extensions:
    for source in extension.sources:
        with open(source) as f:
            text = f.read()
        patched += text.count(untrack)
        with open(source, "w") as f:
            f.write(text.replace(untrack, clear))
if not patched:
    sys.exit("the weakref fix found no deallocator to patch: check this mypyc's output")
setup(
    name="greenabc-compiled-core",
    package_dir={"": root},
    ext_modules=extensions,
    script_args=["build_ext", "--inplace", "--build-temp", temp, "--build-lib", temp + "/lib"],
)
"""


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def _compiled_modules(root: Path) -> tuple[str, ...]:
    namespace: dict[str, Any] = {}
    source = (root / CORE / "_compiled.py").read_text(encoding="utf-8")
    line = next(line for line in source.splitlines() if line.startswith("COMPILED = "))
    exec(line, namespace)  # noqa: S102  # one literal tuple, read without importing greenabc
    return tuple(namespace["COMPILED"])


def why_pure_python() -> str | None:
    """Why this machine builds pure Python, or None if it can compile."""
    if _flag("GREENABC_PURE_PYTHON"):
        return "GREENABC_PURE_PYTHON is set"
    if sys.implementation.name != "cpython":
        return f"mypyc compiles for CPython, this is {sys.implementation.name}"
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    if not shutil.which(shlex.split(compiler)[0]):
        return f"no C compiler found ({compiler!r}): install one (e.g. apt-get install gcc)"
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        return "Python's headers (Python.h) are missing: install python3-dev or alike"
    return None


class CompiledCoreHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def clean(self, versions: list[str]) -> None:
        root = Path(self.root)
        for pattern in (*ARTIFACTS, RECORD, EDITABLE):
            for path in root.glob(pattern):
                path.unlink()

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        self.clean([version])  # a pure build must not ship a stale compiled module
        reason = why_pure_python()
        if reason is None:
            try:
                self._compile()
            except Exception as exc:
                if _flag("GREENABC_REQUIRE_COMPILED"):
                    raise
                self.clean([version])
                reason = f"compiling failed ({exc})"
        if reason is not None:
            self.app.display_warning(f"greenabc: building the pure-Python core: {reason}")
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["artifacts"].extend([*ARTIFACTS, RECORD])
        if version == "editable":
            Path(self.root, EDITABLE).write_text("", encoding="utf-8")
        self.app.display_info("greenabc: compiled the core with mypyc")

    def _compile(self) -> None:
        root = Path(self.root)
        modules = _compiled_modules(root)
        sources = [str(root / CORE / f"{name}.py") for name in modules]
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        with tempfile.TemporaryDirectory() as temp:
            # In a directory of its own: setuptools must not read pyproject.toml.
            done = subprocess.run(  # noqa: S603  # this interpreter, our own script
                [
                    sys.executable,
                    "-c",
                    _COMPILE,
                    str(root),
                    temp,
                    _UNTRACK,
                    _CLEAR_WEAKREFS,
                    "--config-file",
                    str(root / "pyproject.toml"),
                    "--python-version",
                    version,
                    *sources,
                ],
                cwd=temp,
                capture_output=True,
                text=True,
                check=False,
            )
        if done.returncode:
            tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
            raise RuntimeError("mypyc failed:\n" + "\n".join(tail))
        from mypy.version import __version__ as mypy_version

        record = {
            "compiler": f"mypyc {mypy_version}",
            "sources": {
                name: hashlib.sha256((root / CORE / f"{name}.py").read_bytes()).hexdigest()
                for name in modules
            },
        }
        (root / RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
