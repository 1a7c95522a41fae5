"""gunicorn's ``Config`` with each setting looked up once per worker process.

gunicorn reads its settings through ``Config.__getattr__`` (a dict look-up
and a ``Setting.get()`` call, two Python calls), about twenty times per
request in its parser, its response and the worker's loop: some 13 % of the
Python calls a kept-alive request makes. A worker's settings are fixed once
it has forked (a reload forks new workers), so after the first read each one
is an instance attribute: the look-up never reaches ``__getattr__`` again.
"""

from __future__ import annotations

from typing import Any

from gunicorn.config import Config


class SettledConfig(Config):  # type: ignore[misc]
    """``Config`` whose setting reads are cached on the instance; ``set``
    drops the cached value, so a setting changed in the worker is read anew."""

    def __getattr__(self, name: str) -> Any:
        value = super().__getattr__(name)  # AttributeError for what is no setting
        object.__setattr__(self, name, value)  # past Config's guard on setting names
        return value

    def set(self, name: str, value: Any) -> None:
        super().set(name, value)
        self.__dict__.pop(name, None)


def settle(cfg: Config) -> None:
    """Make *cfg* (the worker process's own copy, after the fork) a
    :class:`SettledConfig`: every holder of it reads settings once."""
    if type(cfg) is Config:
        cfg.__class__ = SettledConfig
