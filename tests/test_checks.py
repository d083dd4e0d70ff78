"""System checks: each problem in the settings has its own stable id."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connection
from django.test import override_settings

from tests.test_conf import cache_dir_unset
from tests.wat import hook
from wasmhooks.checks import check_database, check_settings
from wasmhooks.models import WasmModule
from wasmhooks.testutils import override_hooks
from wasmhooks.uploads import store_upload

GOOD = hook(on_request=[])
AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
OURS = "wasmhooks.middleware.WasmHooksMiddleware"


def ids() -> list[str]:
    return [message.id for message in check_settings()]


def test_a_clean_configuration_passes():
    with override_hooks({"good": GOOD}, [{"module": "good", "pattern": "^/"}]):
        assert check_settings() == []


def test_the_checks_are_registered():
    with override_settings(WASMHOOKS_TIMEOUT_MS=0):
        assert "wasmhooks.E008" in [message.id for message in checks.run_checks()]


@pytest.mark.parametrize("modules", [["good"], {1: "x.wasm"}, {"good": 42}])
def test_modules_must_be_a_dict_of_names_to_paths(modules):
    with override_settings(WASMHOOKS_MODULES=modules):
        assert ids() == ["wasmhooks.E001"]


def test_module_names_are_checked():
    with override_hooks({"bad name": GOOD, "good": GOOD}):
        assert ids() == ["wasmhooks.E001"]


def test_a_missing_module_file():
    with override_hooks({"gone": "/nonexistent/gone.wasm"}):
        [message] = check_settings()
    assert (message.id, message.msg) == (
        "wasmhooks.E002",
        "WASMHOOKS_MODULES['gone']: no file at /nonexistent/gone.wasm.",
    )


@pytest.mark.parametrize(
    ("wasm", "problem"),
    [(b"not wasm", "not a WebAssembly binary"), (hook(on_request=[], marker=False), "ABI marker")],
)
def test_a_module_that_is_not_a_hook(wasm, problem):
    with override_hooks({"bad": wasm}):
        [message] = check_settings()
    assert message.id == "wasmhooks.E003"
    assert problem in message.msg


@pytest.mark.parametrize(
    "bindings",
    [
        "not a list",
        ["not a dict"],
        [{"module": "good", "pattern": "^/", "colour": "red"}],
        [{"module": "good", "pattern": "^/", "timeout_ms": "fast"}],
        [{"module": "good", "pattern": "^/", "on_error": "ignore"}],
    ],
)
def test_bad_bindings(bindings):
    with override_hooks({"good": GOOD}), override_settings(WASMHOOKS_BINDINGS=bindings):
        assert ids() == ["wasmhooks.E004"]


def database_ids(databases=("default",)) -> list[str]:
    return [message.id for message in check_database(databases=databases)]


def store(name: str) -> WasmModule:
    return store_upload(name, GOOD).module


def test_a_binding_of_an_unknown_module_is_a_database_check():
    with override_hooks({"good": GOOD}, [{"module": "other", "pattern": "^/"}]):
        assert ids() == []
        assert database_ids() == ["wasmhooks.E005"]
        assert database_ids(databases=None) == []
        assert "wasmhooks.E005" in [m.id for m in checks.run_checks(databases=["default"])]


def test_a_settings_binding_may_name_a_stored_module():
    store("stored")
    with override_hooks({"good": GOOD}, [{"module": "stored", "pattern": "^/"}]):
        assert database_ids() == []


def test_a_module_name_both_in_settings_and_stored():
    store("good")
    with override_hooks({"good": GOOD}):
        messages = check_database(databases=["default"])
    assert [m.id for m in messages] == ["wasmhooks.E011"]
    assert "'good'" in messages[0].msg


def test_stored_modules_that_cannot_be_read(monkeypatch):
    def broken(*args, **kwargs):
        raise DatabaseError("no such table: wasmhooks_wasmmodule")

    monkeypatch.setattr(WasmModule.objects, "values_list", broken)
    messages = check_database(databases=["default"])
    assert [m.id for m in messages] == ["wasmhooks.E012"]
    assert "no such table" in messages[0].msg


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("WASMHOOKS_RELOAD_INTERVAL", -1),
        ("WASMHOOKS_RELOAD_INTERVAL", "1"),
        ("WASMHOOKS_RELOAD_INTERVAL", True),
        ("WASMHOOKS_RELOAD_INTERVAL", float("inf")),
        ("WASMHOOKS_MAX_MODULE_BYTES", 0),
        ("WASMHOOKS_MAX_MODULE_BYTES", 1.5),
    ],
)
def test_reload_interval_and_module_size_limit(setting, value):
    with override_settings(**{setting: value}):
        assert ids() == ["wasmhooks.E008"]


def test_a_reload_interval_of_zero_looks_on_every_request():
    with override_settings(WASMHOOKS_RELOAD_INTERVAL=0):
        assert ids() == []


@pytest.mark.parametrize("classes", ["wasmhooks.api.permissions.ModelPermissions", ["no.such.Class"]])
def test_api_permission_classes(classes):
    with override_settings(WASMHOOKS_API_PERMISSION_CLASSES=classes):
        assert ids() == ["wasmhooks.E013"]


@pytest.mark.parametrize("pattern", ["(unclosed", None])
def test_a_binding_pattern_that_does_not_compile(pattern):
    with override_hooks({"good": GOOD}, [{"module": "good", "pattern": pattern}]):
        assert ids() == ["wasmhooks.E006"]


def test_bindings_without_the_middleware():
    middleware = [AUTH.replace("auth.middleware.Authentication", "sessions.middleware.Session"), AUTH]
    with override_hooks({"good": GOOD}, [{"module": "good", "pattern": "^/"}], MIDDLEWARE=middleware):
        assert ids() == ["wasmhooks.E007"]
    with override_hooks({"good": GOOD}, MIDDLEWARE=middleware):
        assert ids() == []


@pytest.mark.parametrize(
    "setting",
    [
        {"WASMHOOKS_TIMEOUT_MS": 0},
        {"WASMHOOKS_TIMEOUT_MS": "50"},
        {"WASMHOOKS_TIMEOUT_MS": float("inf")},
        {"WASMHOOKS_MEMORY_MB": -1},
        {"WASMHOOKS_FUEL": 1.5},
        {"WASMHOOKS_FUEL": True},
    ],
)
def test_bad_default_limits(setting):
    with override_settings(**setting):
        [message] = check_settings()
    assert message.id == "wasmhooks.E008"
    assert message.msg.startswith(f"'{next(iter(setting))}' must be a positive")


def test_good_default_limits():
    with override_settings(WASMHOOKS_TIMEOUT_MS=0.5, WASMHOOKS_MEMORY_MB=1, WASMHOOKS_FUEL=1000):
        assert ids() == []


@pytest.mark.parametrize("alias", ["nope", ["default"]])
def test_an_unknown_kv_cache_alias(alias):
    with override_settings(WASMHOOKS_KV_CACHE=alias):
        assert ids() == ["wasmhooks.E009"]


@pytest.mark.parametrize(
    ("cache_dir", "expected"),
    [(42, ["wasmhooks.E010"]), ("/tmp/wasm-cache", []), (Path("/tmp/wasm-cache"), []), (None, [])],
)
def test_the_cache_dir_must_be_a_path(cache_dir, expected):
    with override_settings(WASMHOOKS_CACHE_DIR=cache_dir):
        assert ids() == expected


def test_a_cache_dir_inside_a_file_cannot_be_written(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with override_settings(WASMHOOKS_CACHE_DIR=str(tmp_path / "file" / "cache")):
        [message] = check_settings()
    assert (message.id, message.level) == ("wasmhooks.W002", checks.WARNING)
    assert f"{tmp_path / 'file'} is not a folder" in message.msg
    assert "every process compiles every module" in message.msg
    assert not (tmp_path / "cache").exists()


def test_a_cache_dir_this_user_may_not_write(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: path != tmp_path and real_access(path, mode))
    with override_settings(WASMHOOKS_CACHE_DIR=str(tmp_path / "a" / "b")):
        [message] = check_settings()
    assert message.id == "wasmhooks.W002"
    assert f"this user may not write in {tmp_path}" in message.msg


def test_the_default_cache_dir_is_checked_too(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_bytes(b"")
    with cache_dir_unset():
        assert ids() == ["wasmhooks.W002"]
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert ids() == []


def test_no_home_folder_means_memory_only_and_a_warning(monkeypatch):
    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", no_home)
    with cache_dir_unset():
        [message] = check_settings()
    assert message.id == "wasmhooks.W002"
    assert "no home folder" in message.msg


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [([OURS, AUTH], ["wasmhooks.W001"]), ([AUTH, OURS], []), ([OURS], [])],
)
def test_the_middleware_should_come_after_authentication(middleware, expected):
    with override_settings(MIDDLEWARE=middleware):
        assert ids() == expected


def test_the_database_checks_wait_for_migrate(monkeypatch):
    with override_hooks({}, [{"module": "other", "pattern": "^/"}]):
        assert database_ids() == ["wasmhooks.E005"]
        monkeypatch.setattr(connection.introspection, "table_names", lambda *args, **kwargs: [])
        assert database_ids() == []


def test_the_mounted_api_needs_its_apps_and_schema_class():
    assert ids() == []
    apps = [app for app in settings.INSTALLED_APPS if app != "drf_spectacular"]
    with override_settings(INSTALLED_APPS=apps, REST_FRAMEWORK={}):
        messages = check_settings()
    assert [m.id for m in messages] == ["wasmhooks.E014", "wasmhooks.E014"]
    assert "['drf_spectacular'] not in INSTALLED_APPS" in messages[0].msg
    assert "DEFAULT_SCHEMA_CLASS'] is None" in messages[1].msg


def test_the_api_checks_wait_until_it_is_mounted():
    with override_settings(ROOT_URLCONF="tests.urls_without_api", REST_FRAMEWORK={}):
        assert ids() == []


@pytest.mark.parametrize(
    ("setting", "value"), [("WASMHOOKS_TIMEOUT_MS", 3_600_001), ("WASMHOOKS_MEMORY_MB", 5000)]
)
def test_default_limits_have_a_ceiling(setting, value):
    with override_settings(**{setting: value}):
        messages = check_settings()
    assert [m.id for m in messages] == ["wasmhooks.E008"]
    assert f"{setting} must be at most" in messages[0].msg
