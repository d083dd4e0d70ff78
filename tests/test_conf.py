"""Settings are read live through `wasmhooks.conf`; a change to one drops what was built from it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from wasmhooks import snapshot
from wasmhooks.conf import WATCHED_SETTINGS, conf


def test_defaults():
    with override_settings():
        del settings.WASMHOOKS_MODULES
        del settings.WASMHOOKS_BINDINGS
        assert (conf.MODULES, conf.BINDINGS) == ({}, [])
    assert (conf.TIMEOUT_MS, conf.MEMORY_MB, conf.FUEL) == (50, 32, None)
    assert (conf.CACHE_DIR, conf.KV_CACHE) == (None, "default")
    assert conf.SECRET_KEY == "wasmhooks-tests-not-secret"


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
