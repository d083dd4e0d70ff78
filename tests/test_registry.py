"""Modules by name: read from the settings, compiled once, checked against the ABI."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.test import override_settings

from tests.test_conf import cache_dir_unset
from tests.wat import hook
from wasmhooks import registry
from wasmhooks.registry import ModuleNotFound
from wasmhooks.runtime import ModuleInvalid, WasmHost
from wasmhooks.testutils import override_hooks

GOOD = hook(on_request=[], on_response=[])


def test_a_module_is_loaded_once_until_the_settings_change():
    with override_hooks({"good": GOOD}):
        loaded = registry.get_module("good")
        assert registry.get_module("good") is loaded
        assert (loaded.name, loaded.logger.name) == ("good", "wasmhooks.guest.good")
        assert loaded.summary.entry_points == ("on_request", "on_response")
        assert loaded.exports("on_request") and not loaded.exports("greet")
        with override_settings(WASMHOOKS_TIMEOUT_MS=10):
            assert registry.get_module("good") is not loaded


@pytest.mark.parametrize("modules", [{}, ["good"]])
def test_an_unknown_name_is_not_found(modules):
    with override_settings(WASMHOOKS_MODULES=modules), pytest.raises(ModuleNotFound) as caught:
        registry.get_module("good")
    assert caught.value.module == "good"
    assert caught.value.kind == "not_found"


def test_an_unreadable_file_is_invalid(tmp_path):
    with override_hooks({"folder": str(tmp_path)}), pytest.raises(ModuleInvalid, match="cannot read"):
        registry.get_module("folder")


def test_a_module_without_the_abi_marker_is_invalid_and_named():
    with pytest.raises(ModuleInvalid, match="ABI marker") as caught:
        registry.load_wasm(hook(on_request=[], marker=False), "unmarked")
    assert caught.value.module == "unmarked"


def test_compiled_modules_are_written_to_the_cache_dir(tmp_path):
    with override_hooks({"good": GOOD}, WASMHOOKS_CACHE_DIR=str(tmp_path)):
        registry.get_module("good")
    [artifact] = tmp_path.glob("*.cwasm")
    assert artifact.stat().st_size > 0


def test_by_default_compiled_modules_go_to_the_users_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with override_hooks({"good": GOOD}), cache_dir_unset():
        registry.get_module("good")
    assert sorted(path.suffix for path in (tmp_path / "wasmhooks").iterdir()) == [".cwasm", ".lock", ".sig"]


def test_the_host_is_rebuilt_when_the_secret_key_changes():
    host = registry.get_host()
    assert registry.get_host() is host
    with override_settings(SECRET_KEY="another"):
        assert registry.get_host() is not host


def test_threads_arriving_together_share_one_host():
    hosts: list[WasmHost] = []
    registry.reset()
    with registry._lock:  # hold the lock so every thread finds no host and waits for it
        threads = [threading.Thread(target=lambda: hosts.append(registry.get_host())) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len(hosts) == 4
    assert all(host is hosts[0] for host in hosts)


def test_the_host_is_prepared_at_start_up():
    registry.reset()
    registry.prepare()
    assert registry._host is not None and registry._host._main is not None


def test_a_setting_that_breaks_the_host_does_not_stop_start_up(caplog):
    registry.reset()
    with override_settings(WASMHOOKS_CACHE_DIR=12):
        caplog.set_level(logging.DEBUG, logger="wasmhooks")
        registry.prepare()
    assert "could not prepare the host at start-up" in caplog.text


@pytest.mark.parametrize("sha256", ["../" + "a" * 61, "A" * 64, "a" * 63, ""])
def test_a_stored_digest_that_is_not_a_sha256_is_never_looked_up(sha256, tmp_path):
    with override_settings(WASMHOOKS_CACHE_DIR=str(tmp_path)):
        assert registry.load_known(sha256, 10, "m") is None
    assert list(tmp_path.iterdir()) == []
