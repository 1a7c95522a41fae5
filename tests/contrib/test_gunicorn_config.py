"""The worker's copy of gunicorn's Config: each setting looked up once."""

from __future__ import annotations

import pytest

pytest.importorskip("gunicorn", reason="the gunicorn extra is not installed")

from gunicorn.config import Config

from greenabc.contrib.gunicorn._config import SettledConfig, settle


def _settled() -> Config:
    cfg = Config()
    cfg.set("keepalive", 7)
    settle(cfg)
    return cfg


def test_a_setting_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _settled()
    assert isinstance(cfg, SettledConfig)
    assert cfg.keepalive == 7
    looked_up: list[str] = []
    real = Config.__getattr__
    monkeypatch.setattr(
        Config, "__getattr__", lambda self, name: looked_up.append(name) or real(self, name)
    )
    assert cfg.keepalive == 7
    assert cfg.workers == 1
    assert cfg.workers == 1
    assert looked_up == ["workers"]


def test_set_is_read_anew() -> None:
    cfg = _settled()
    assert cfg.keepalive == 7
    cfg.set("keepalive", 3)
    assert cfg.keepalive == 3


def test_what_is_no_setting_still_raises() -> None:
    cfg = _settled()
    with pytest.raises(AttributeError, match="No configuration setting for: no_such"):
        cfg.no_such  # noqa: B018
    with pytest.raises(AttributeError):
        cfg.settings_missing  # noqa: B018
    with pytest.raises(AttributeError, match="Invalid access"):
        cfg.keepalive = 1  # Config's guard stays


def test_properties_read_the_settings() -> None:
    cfg = _settled()
    assert not cfg.is_ssl
    cfg.set("certfile", __file__)
    assert cfg.is_ssl


def test_a_subclass_is_left_alone() -> None:
    class Custom(Config):  # type: ignore[misc]
        pass

    cfg = Custom()
    settle(cfg)
    assert type(cfg) is Custom
