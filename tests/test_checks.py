"""System checks: each problem in the settings has its own stable id."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from tests.wat import hook
from wasmhooks.checks import check_settings
from wasmhooks.testutils import override_hooks

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


def test_a_binding_of_an_unknown_module():
    with override_hooks({"good": GOOD}, [{"module": "other", "pattern": "^/"}]):
        assert ids() == ["wasmhooks.E005"]


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


@pytest.mark.parametrize(("cache_dir", "expected"), [(42, ["wasmhooks.E010"]), ("/tmp/wasm-cache", [])])
def test_the_cache_dir_must_be_a_path(cache_dir, expected):
    with override_settings(WASMHOOKS_CACHE_DIR=cache_dir):
        assert ids() == expected


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [([OURS, AUTH], ["wasmhooks.W001"]), ([AUTH, OURS], []), ([OURS], [])],
)
def test_the_middleware_should_come_after_authentication(middleware, expected):
    with override_settings(MIDDLEWARE=middleware):
        assert ids() == expected
