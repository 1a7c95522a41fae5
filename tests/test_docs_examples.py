"""Every ```python block of README.md and docs/ runs, so the docs cannot drift
from the code.

Each block runs in a fresh interpreter (a block that patches gevent or
eventlet needs a process of its own), with warnings as errors, the way a user
would run it: the block is saved as a script and run as ``__main__``.

Which backend:

- a block that calls ``greenabc.patch("gevent")`` (or eventlet) patches
  itself, and runs once;
- ``<!-- test: backends threads gevent eventlet -->`` on the line before the
  block runs it once per backend named, patched first as ``python -m greenabc
  run --backend NAME`` would (a block that names no engine: library code);
- any other block runs once, unpatched (the threads backend).

``<!-- test: skip (reason) -->`` before a block skips it, and the test report
says why; keep these for what cannot run (a fragment for the reader to fill
in, a program that needs a server of its own).

``docs/examples`` is on ``sys.path``, so a block may import the example
library ``broadcast_hub``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BACKENDS = ("threads", "gevent", "eventlet")
TIMEOUT = 60  # seconds for one block: a hang fails the test, never CI

DIRECTIVE = re.compile(r"^<!--\s*test:\s*(?P<what>skip|backends)\b\s*(?P<rest>.*?)\s*-->$")
PATCHES = re.compile(r"""greenabc\.patch\(\s*["'](?P<name>\w+)["']""")

RUNNER = r"""
import runpy, sys, warnings
warnings.simplefilter("error")
# eventlet warns once, at import, that it is deprecated: docs/choosing-a-backend.md says so.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
backend, path = sys.argv[1], sys.argv[2]
if backend != "-":
    import greenabc
    greenabc.patch(backend)  # first, as `python -m greenabc run --backend NAME` does
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


@dataclass(frozen=True)
class Block:
    source: Path
    line: int  # of the opening fence
    code: str
    skip: str | None  # the reason
    backends: tuple[str, ...] | None  # None: as the block itself patches

    @property
    def where(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}"


def extract(path: Path) -> list[Block]:
    """The ```python blocks of one Markdown file, with their directives."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        start = i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        code = "\n".join(lines[start + 1 : end]) + "\n"
        prev = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        skip = None
        backends: tuple[str, ...] | None = None
        directive = DIRECTIVE.match(prev)
        if prev.startswith("<!-- test") and directive is None:
            raise ValueError(f"{path}:{start + 1}: malformed directive {prev!r}")
        if directive and directive["what"] == "skip":
            reason = directive["rest"]
            if not (reason.startswith("(") and reason.endswith(")") and len(reason) > 2):
                raise ValueError(f"{path}:{start + 1}: a skip needs a reason in parentheses")
            skip = reason[1:-1]
        elif directive:
            backends = tuple(directive["rest"].split())
            unknown = set(backends) - set(BACKENDS)
            if not backends or unknown:
                raise ValueError(f"{path}:{start + 1}: unknown backends {sorted(unknown)}")
        elif PATCHES.search(code) is None:
            backends = ("threads",)
        blocks.append(Block(path, start + 1, code, skip, backends))
        i = end + 1
    return blocks


BLOCKS = [block for path in SOURCES for block in extract(path)]
CASES = [
    pytest.param(block, backend, id=f"{block.where}[{backend or 'self-patched'}]")
    for block in BLOCKS
    for backend in (block.backends or (None,))
]


def test_the_docs_have_examples() -> None:
    assert len(BLOCKS) >= 30
    skipped = [b for b in BLOCKS if b.skip]
    assert len(skipped) <= len(BLOCKS) // 10, "skips are for what cannot run; keep them rare"


@pytest.mark.parametrize(("block", "backend"), CASES)
def test_example_runs(block: Block, backend: str | None, tmp_path: Path) -> None:
    if block.skip:
        pytest.skip(f"{block.where}: {block.skip}")
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENABC_", "PYTHON"))}
    env["PYTHONPATH"] = str(ROOT / "docs" / "examples")
    try:
        done = subprocess.run(
            [sys.executable, str(runner), backend or "-", str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{block.where} did not finish within {TIMEOUT} s:\n{exc.stdout}\n{exc.stderr}")
    output = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode == 0, f"{block.where} failed (exit code {done.returncode}):\n{output}"
    assert "Exception ignored" not in done.stderr, f"{block.where}:\n{output}"
