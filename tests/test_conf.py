"""Settings are read live through `wasmhooks.conf`; a change to one drops what was built from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from wasmhooks import registry, snapshot
from wasmhooks.conf import WATCHED_SETTINGS, conf


@contextmanager
def cache_dir_unset() -> Iterator[None]:
    """`WASMHOOKS_CACHE_DIR` left out of the settings (the test settings set it to None)."""
    with override_settings():
        del settings.WASMHOOKS_CACHE_DIR
        conf.forget()
        registry.reset()
        try:
            yield
        finally:
            conf.forget()
            registry.reset()


def test_defaults():
    with override_settings():
        del settings.WASMHOOKS_MODULES
        del settings.WASMHOOKS_BINDINGS
        assert (conf.MODULES, conf.BINDINGS) == ({}, [])
    assert (conf.TIMEOUT_MS, conf.MEMORY_MB, conf.FUEL) == (50, 32, None)
    assert conf.KV_CACHE == "default"
    assert conf.SECRET_KEY == "wasmhooks-tests-not-secret"


def test_the_cache_dir_defaults_to_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with cache_dir_unset():
        assert conf.cache_dir_unset
        assert tmp_path / "xdg" / "wasmhooks" == conf.CACHE_DIR
        monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG spec says
        assert tmp_path / "home" / ".cache" / "wasmhooks" == conf.CACHE_DIR
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert tmp_path / "home" / ".cache" / "wasmhooks" == conf.CACHE_DIR
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()  # nothing made yet


def test_without_a_home_folder_the_default_cache_dir_is_none(monkeypatch):
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", no_home)
    with cache_dir_unset():
        assert conf.CACHE_DIR is None


@pytest.mark.parametrize("value", [None, "/tmp/x"])
def test_a_cache_dir_set_even_to_none_is_kept(value):
    with override_settings(WASMHOOKS_CACHE_DIR=value):
        assert (conf.CACHE_DIR, conf.cache_dir_unset) == (value, False)


def test_settings_are_read_live():
    with override_settings(
        WASMHOOKS_MODULES={"m": "m.wasm"},
        WASMHOOKS_BINDINGS=[{"module": "m", "pattern": "^/"}],
        WASMHOOKS_TIMEOUT_MS=5,
        WASMHOOKS_MEMORY_MB=4,
        WASMHOOKS_FUEL=1000,
        WASMHOOKS_CACHE_DIR="/tmp/x",
        WASMHOOKS_KV_CACHE="redis",
    ):
        assert (conf.MODULES, conf.BINDINGS) == ({"m": "m.wasm"}, [{"module": "m", "pattern": "^/"}])
        assert (conf.TIMEOUT_MS, conf.MEMORY_MB, conf.FUEL) == (5, 4, 1000)
        assert (conf.CACHE_DIR, conf.KV_CACHE) == ("/tmp/x", "redis")


@pytest.mark.parametrize("setting", sorted(WATCHED_SETTINGS))
def test_a_watched_setting_change_rebuilds_the_hooks_snapshot(setting):
    table = snapshot.current().routes
    with override_settings(**{setting: getattr(settings, setting, None)}):
        assert snapshot.current().routes is not table


def test_other_setting_changes_keep_the_hooks_snapshot():
    table = snapshot.current().routes
    with override_settings(USE_I18N=False):
        assert snapshot.current().routes is table


def test_a_setting_is_read_once_until_django_says_it_changed(settings):
    settings.WASMHOOKS_TIMEOUT_MS = 7
    assert conf.TIMEOUT_MS == 7
    settings._wrapped.WASMHOOKS_TIMEOUT_MS = 9  # behind Django's back: no setting_changed
    assert conf.TIMEOUT_MS == 7
    settings.WASMHOOKS_TIMEOUT_MS = 11  # through pytest-django, which sends setting_changed
    assert conf.TIMEOUT_MS == 11
