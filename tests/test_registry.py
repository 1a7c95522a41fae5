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


def _warned_backend(name: str) -> str:
    """A snippet: look *name* up, print each warning, then the backend's module."""
    return f"""
        import warnings, greenabc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            backend = greenabc.get_backend({name!r})
        for w in caught:
            print("WARNING:", w.category.__name__, w.message)
        print("FROM:", type(backend.engine).__module__ if hasattr(backend, "engine") else "?")
        print("NAME:", backend.name)
    """


NAMED_PLUGIN = """
    import greenabc._threads as t
    def backend():
        b = t.backend()
        b.name = {label!r}
        return b
"""


def test_two_distributions_with_one_name_warn_and_the_first_on_sys_path_wins(
    run_python: RunPython, make_plugin: Callable[..., Path], tmp_path: Path
) -> None:
    site_a = make_plugin(
        "alpha-plugin", {"dup": "alpha_mod:backend"}, {"alpha_mod": NAMED_PLUGIN.format(label="A")}
    ).rename(tmp_path / "site-a")
    site_b = make_plugin(
        "beta-plugin", {"dup": "beta_mod:backend"}, {"beta_mod": NAMED_PLUGIN.format(label="B")}
    )
    for first, second, winner, loser, loser_value in [
        (site_a, site_b, "alpha-plugin", "beta-plugin", "beta_mod:backend"),
        (site_b, site_a, "beta-plugin", "alpha-plugin", "alpha_mod:backend"),
    ]:
        result = run_python(_warned_backend("dup"), first, second)
        assert result.returncode == 0, result.stderr
        warned = [line for line in result.stdout.splitlines() if line.startswith("WARNING:")]
        assert len(warned) == 1, result.stdout
        assert "BackendConflictWarning" in warned[0]
        assert f"'{winner}'" in warned[0]
        assert f"'{loser}'" in warned[0]
        assert f"using the one from '{winner}'" in warned[0]
        assert f"greenabc.register_backend('dup', '{loser_value}', replace=True)" in warned[0]
        assert f"NAME: {winner[0].upper()}" in result.stdout

    # Following the warning's advice picks the other one, with no second warning.
    chosen = run_python(
        """
        import warnings, greenabc
        warnings.simplefilter("ignore")
        greenabc.register_backend("dup", "beta_mod:backend", replace=True)
        print("NAME:", greenabc.get_backend("dup").name)
        """,
        site_a,
        site_b,
    )
    assert chosen.stdout.split() == ["NAME:", "B"], chosen.stderr


@pytest.mark.parametrize(
    ("name", "owner"),
    [("threads", "greenabc"), ("gevent", "greenabc-gevent"), ("eventlet", "greenabc-eventlet")],
)
def test_a_plugin_cannot_silently_take_over_a_first_party_name(
    run_python: RunPython, make_plugin: Callable[..., Path], name: str, owner: str
) -> None:
    # The impostor comes first on sys.path (PYTHONPATH), yet the owner keeps the name.
    site = make_plugin(
        "impostor-plugin",
        {name: "impostor_mod:backend"},
        {"impostor_mod": "raise SystemExit('the impostor was imported')"},
    )
    result = run_python(_warned_backend(name), site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"NAME: {name}" in result.stdout
    warned = [line for line in result.stdout.splitlines() if line.startswith("WARNING:")]
    conflict = [line for line in warned if "BackendConflictWarning" in line]
    assert len(conflict) == 1, result.stdout
    assert f"'{owner}'" in conflict[0]
    assert "'impostor-plugin'" in conflict[0]
    assert f"using the one from '{owner}'" in conflict[0]
    assert f"register_backend('{name}', 'impostor_mod:backend', replace=True)" in conflict[0]


@pytest.mark.parametrize("name", ["gevent", "eventlet"])
def test_adapter_installed_without_its_engine_says_to_install_the_engine(
    run_python: RunPython, name: str
) -> None:
    # As after `pip install --no-deps greenabc-<name>`: the adapter is there, its engine not.
    result = run_python(
        f"""
        import sys, greenabc
        sys.modules[{name!r}] = None  # import {name} now raises ModuleNotFoundError
        try:
            greenabc.get_backend({name!r})
        except greenabc.BackendUnavailableError as exc:
            print("ERROR:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ERROR:"), result.stdout
    assert f"pip install {name}\n" in result.stdout
    assert f"pip install greenabc-{name}" not in result.stdout


ENGINE_AT_IMPORT = "import no_such_engine_xyz\ndef backend():\n    pass"
ENGINE_IN_FACTORY = "def backend():\n    import no_such_engine_xyz.hub"


@pytest.mark.parametrize("source", [ENGINE_AT_IMPORT, ENGINE_IN_FACTORY], ids=["import", "factory"])
def test_third_party_plugin_without_its_engine_names_the_missing_module(
    run_python: RunPython, make_plugin: Callable[..., Path], source: str
) -> None:
    site = make_plugin("needs-engine", {"needs": "needs_mod:backend"}, {"needs_mod": source})
    result = run_python(
        """
        import greenabc
        try:
            greenabc.get_backend("needs")
        except greenabc.BackendUnavailableError as exc:
            print("ERROR:", exc)
        """,
        site,
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR: backend 'needs'" in result.stdout
    assert "of distribution 'needs-engine'" in result.stdout
    assert result.stdout.rstrip().endswith("pip install no_such_engine_xyz"), result.stdout
