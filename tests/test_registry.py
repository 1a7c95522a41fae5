"""The registry: names, entry points, errors, laziness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import greenabc
from greenabc._threads import backend as threads_backend
from greenabc.interfaces import PROTOCOL_VERSION

from .conftest import RunPython

GOOD_PLUGIN = """
    import greenabc._threads as t
    def backend():
        b = t.backend()
        b.name = "good"
        return b
"""


def test_unknown_name_lists_the_names_that_exist() -> None:
    with pytest.raises(
        greenabc.UnknownBackendError, match="unknown backend 'nope'.*threads"
    ) as info:
        greenabc.get_backend("nope")
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, greenabc.GreenabcError)


def test_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="str"):
        greenabc.get_backend(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "dist"), [("gevent", "greenabc-gevent"), ("eventlet", "greenabc-eventlet")]
)
def test_first_party_backend_not_installed_says_what_to_install(
    run_python: RunPython, tmp_path: Path, name: str, dist: str
) -> None:
    # A fresh interpreter whose metadata has no adapter: block their entry points.
    code = f"""
        import importlib.metadata as md, greenabc
        real = md.entry_points
        md.entry_points = lambda **kw: [ep for ep in real(**kw) if ep.name != {name!r}]
        try:
            greenabc.get_pool({name!r})
        except greenabc.BackendUnavailableError as exc:
            print(exc)
    """
    result = run_python(code)
    assert f"pip install {dist}" in result.stdout, result.stderr


def test_threads_is_built_in_and_the_default(run_python: RunPython) -> None:
    result = run_python(
        "import greenabc; print(greenabc.get_backend().name, greenabc.get_pool().size > 0)"
    )
    assert result.stdout.split() == ["threads", "True"], result.stderr


def test_environment_variable_picks_the_default(
    run_python: RunPython, make_plugin: Callable[..., Path]
) -> None:
    site = make_plugin("good-plugin", {"good": "good_mod:backend"}, {"good_mod": GOOD_PLUGIN})
    result = run_python(
        "import greenabc; print(greenabc.get_backend().name)",
        site,
        env={"GREENABC_BACKEND": "good"},
    )
    assert result.stdout.strip() == "good", result.stderr


def test_import_is_lazy_no_engine_no_entry_points(run_python: RunPython) -> None:
    result = run_python(
        """
        import sys, greenabc
        from greenabc._core import _registry
        print(_registry._registry._entry_points is None,
              any(m.split('.')[0] in ('gevent', 'eventlet', 'greenlet') for m in sys.modules))
        """
    )
    assert result.stdout.split() == ["True", "False"], result.stderr


def test_unchosen_plugin_is_never_imported(
    run_python: RunPython, make_plugin: Callable[..., Path]
) -> None:
    site = make_plugin(
        "loud-plugin",
        {"loud": "loud_mod:backend"},
        {"loud_mod": "raise SystemExit('loud_mod was imported')"},
    )
    result = run_python(
        """
        import sys, greenabc
        greenabc.get_pool("threads").close()
        print(sorted(greenabc.available_backends()), "loud_mod" in sys.modules)
        """,
        site,
    )
    assert result.returncode == 0, result.stderr
    assert "'loud'" in result.stdout
    assert result.stdout.strip().endswith("False")


OLD_PLUGIN = """
import greenabc._threads as t
def backend():
    b = t.backend()
    b.protocol_version = 999
    return b
"""

BROKEN = {
    "importfails": (
        "broken_import:backend",
        {"broken_import": "import no_such_module_xyz"},
        "failed to import",
    ),
    "raises": (
        "broken_raise:backend",
        {"broken_raise": "def backend():\n    raise RuntimeError('nope')"},
        "factory raised",
    ),
    "notabackend": (
        "broken_type:backend",
        {"broken_type": "def backend():\n    return 42"},
        "not a greenabc Backend",
    ),
    "oldversion": (
        "broken_version:backend",
        {"broken_version": OLD_PLUGIN},
        "protocol version 999",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_plugin_names_its_distribution_and_others_keep_working(
    run_python: RunPython, make_plugin: Callable[..., Path], kind: str
) -> None:
    value, modules, message = BROKEN[kind]
    site = make_plugin("shaky-plugin", {kind: value}, modules)
    result = run_python(
        f"""
        import greenabc
        try:
            greenabc.get_backend({kind!r})
        except greenabc.GreenabcError as exc:
            print("ERROR:", exc)
            print("CAUSE:", exc.__cause__ is not None or {kind!r} in ("notabackend", "oldversion"))
        print("THREADS:", greenabc.get_pool("threads").spawn(int, 7).get(5))
        """,
        site,
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"ERROR: backend '{kind}' (entry point '{value}' of distribution 'shaky-plugin')"
        in result.stdout
    )
    assert message in result.stdout
    assert "CAUSE: True" in result.stdout
    assert "THREADS: 7" in result.stdout


def test_plugin_with_missing_requirement_is_not_available(
    run_python: RunPython, make_plugin: Callable[..., Path]
) -> None:
    site = make_plugin(
        "needy-plugin",
        {"needy": "needy_mod:backend"},
        {"needy_mod": GOOD_PLUGIN},
        requires=("greenabc", "no-such-engine-xyz>=1", "pytest; extra == 'dev'"),
    )
    result = run_python("import greenabc; print(greenabc.available_backends())", site)
    assert "'threads'" in result.stdout
    assert "needy" not in result.stdout, result.stderr


def test_register_backend_at_run_time() -> None:
    calls: list[int] = []

    def factory() -> greenabc.Backend:
        calls.append(1)
        return threads_backend()

    greenabc.register_backend("mine-test", factory)
    try:
        assert "mine-test" in greenabc.available_backends()
        first = greenabc.get_backend("mine-test")
        assert greenabc.get_backend("mine-test") is first
        assert calls == [1]
        with pytest.raises(ValueError, match="replace=True"):
            greenabc.register_backend("mine-test", factory)
        greenabc.register_backend("mine-test", "greenabc._threads:backend", replace=True)
        assert greenabc.get_backend("mine-test") is not first
        with pytest.raises(ValueError, match="replace=True"):
            greenabc.register_backend("threads", factory)
    finally:
        from greenabc._core._registry import _registry

        _registry._runtime.pop("mine-test", None)
        _registry._loaded.pop("mine-test", None)


@pytest.mark.parametrize("factory", [42, "no_colon"])
def test_register_backend_refuses_bad_factories(factory: object) -> None:
    with pytest.raises(TypeError, match="factory"):
        greenabc.register_backend("bad-test", factory)  # type: ignore[arg-type]


def test_protocol_version_constant() -> None:
    assert threads_backend().protocol_version == PROTOCOL_VERSION
