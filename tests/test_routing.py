"""Bindings: validating them, their defaults, and the route table built from the settings."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings

from wasmhooks.routing import BindingError, RouteTable, parse_binding, settings_bindings
from wasmhooks.runtime import Limits


def binding(**options: object) -> dict[str, object]:
    return {"module": "m", "pattern": "^/", **options}


def test_defaults_come_from_the_settings():
    with override_settings(WASMHOOKS_TIMEOUT_MS=7, WASMHOOKS_MEMORY_MB=2, WASMHOOKS_FUEL=100):
        parsed = parse_binding(binding())
    assert parsed.limits == Limits(timeout_ms=7, memory_bytes=2 * 1024 * 1024, fuel=100)
    assert (parsed.methods, parsed.order, parsed.on_error, parsed.config, parsed.isolate) == (
        None,
        0,
        "block",
        b"",
        False,
    )
    assert parsed.blocks_on_error


def test_built_in_defaults():
    assert parse_binding(binding()).limits == Limits(timeout_ms=50, memory_bytes=32 * 1024 * 1024, fuel=None)


def test_a_binding_overrides_the_defaults():
    parsed = parse_binding(
        binding(
            methods=["get", "POST"],
            order=-3,
            timeout_ms=2.5,
            memory_mb=0.5,
            fuel=10,
            on_error="continue",
            config="cfg",
            isolate=True,
            name="guard",
        ),
        name="ignored",
    )
    assert parsed.methods == frozenset({"GET", "POST"})
    assert parsed.limits == Limits(timeout_ms=2.5, memory_bytes=512 * 1024, fuel=10)
    assert (parsed.order, parsed.on_error, parsed.config, parsed.isolate, parsed.name) == (
        -3,
        "continue",
        b"cfg",
        True,
        "guard",
    )
    assert not parsed.blocks_on_error


def test_small_details():
    assert parse_binding(binding(methods=["get", "POST"])).methods == {"GET", "POST"}
    assert parse_binding(binding(config=b"\x00raw")).config == b"\x00raw"
    assert parse_binding(binding(module="m" * 64)).module == "m" * 64
    assert parse_binding(binding(), name="settings[3]").name == "settings[3]"
    assert parse_binding({"module": "m"}, require_pattern=False).pattern is None
    assert parse_binding(binding(pattern=r"^/a/(?P<x>\d+)")).pattern == re.compile(r"^/a/(?P<x>\d+)")


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (["module", "m"], "", "a binding must be a dict, not list"),
        (binding(colour="red", age=3), "age", "unknown keys ['age', 'colour']"),
        ({"pattern": "^/"}, "module", "'module' must be a module name, not None"),
        (binding(module="a/b"), "module", "'module' must be a module name, not 'a/b'"),
        (binding(module="m" * 65), "module", "'module' must be a module name, not 'mmmm"),
        ({"module": "m"}, "pattern", "'pattern' must be a regular expression string, not None"),
        (binding(pattern="(open"), "pattern", "'pattern' '(open' does not compile: missing ), unterminated"),
        (binding(methods="GET"), "methods", "'methods' must be a list of HTTP methods, not 'GET'"),
        (binding(methods=["GET", 1]), "methods", "'methods' must be a list of HTTP methods"),
        (binding(methods=["G E T"]), "methods", "'methods' must be a list of HTTP methods"),
        (binding(methods=7), "methods", "'methods' must be a list of HTTP methods"),
        (binding(methods=[]), "methods", "'methods' must not be empty; leave it out for every method"),
        (binding(order="1"), "order", "'order' must be an integer, not '1'"),
        (binding(order=True), "order", "'order' must be an integer, not True"),
        (binding(timeout_ms=0), "timeout_ms", "'timeout_ms' must be a positive number, not 0"),
        (binding(timeout_ms=True), "timeout_ms", "'timeout_ms' must be a positive number, not True"),
        (binding(timeout_ms=float("nan")), "timeout_ms", "'timeout_ms' must be a positive number, not nan"),
        (binding(timeout_ms=float("inf")), "timeout_ms", "'timeout_ms' must be a positive number, not inf"),
        (binding(memory_mb="32"), "memory_mb", "'memory_mb' must be a positive number, not '32'"),
        (binding(fuel=1.5), "fuel", "'fuel' must be a positive integer, not 1.5"),
        (binding(fuel=0), "fuel", "'fuel' must be a positive integer, not 0"),
        (binding(fuel=2**63), "fuel", f"'fuel' must be at most {2**63 - 1}, not {2**63}"),
        (binding(memory_mb=0.01), "memory_mb", "'memory_mb' must allow at least one 64 KiB page, not 0.01"),
        (
            binding(on_error="ignore"),
            "on_error",
            "'on_error' must be one of ('block', 'continue'), not 'ignore'",
        ),
        (binding(config=1), "config", "'config' must be a string or bytes, not int"),
        (binding(isolate=1), "isolate", "'isolate' must be True or False, not 1"),
        (binding(name=1), "name", "'name' must be a string, not 1"),
    ],
)
def test_invalid_bindings(raw, field, message):
    with pytest.raises(BindingError) as caught:
        parse_binding(raw)
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_bad_default_settings_make_bindings_invalid():
    with override_settings(WASMHOOKS_TIMEOUT_MS=-5), pytest.raises(BindingError, match="'timeout_ms'"):
        parse_binding(binding())


def test_the_table_orders_by_order_then_position_and_matches():
    first, second, third = (
        parse_binding(binding(module=name, **options))
        for name, options in (
            ("c", {"order": 1}),
            ("a", {}),
            ("b", {"methods": ["POST"], "pattern": "^/x/(?P<id>\\d+)"}),
        )
    )
    table = RouteTable([first, second, third])
    assert [b.module for b in table.bindings] == ["a", "b", "c"]
    assert [m.binding.module for m in table.match("/x/1", "GET")] == ["a", "c"]
    matches = table.match("/x/1", "POST")
    assert [m.binding.module for m in matches] == ["a", "b", "c"]
    assert matches[1].params == {"id": "1"}
    assert table.match("/y/x/1", "POST")[1].binding.module == "c"  # patterns are searched, not matched


def test_settings_bindings_are_named_by_position():
    with override_settings(WASMHOOKS_BINDINGS=[binding(), binding(name="named")]):
        assert [b.name for b in settings_bindings()] == ["settings[0]", "named"]


@pytest.mark.parametrize(
    ("bindings", "message", "field"),
    [
        ({"module": "m"}, "WASMHOOKS_BINDINGS must be a list of dicts", ""),
        ([binding(), binding(order="x")], "WASMHOOKS_BINDINGS[1]: 'order' must be an integer", "order"),
    ],
)
def test_invalid_settings_bindings(bindings, message, field):
    with override_settings(WASMHOOKS_BINDINGS=bindings), pytest.raises(BindingError) as caught:
        settings_bindings()
    assert str(caught.value).startswith(message)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timeout_ms", 3_600_001, "'timeout_ms' must be at most 3600000 (an hour)"),
        ("timeout_ms", 1e300, "'timeout_ms' must be at most 3600000 (an hour)"),
        ("memory_mb", 4097, "'memory_mb' must be at most 4096"),
        ("memory_mb", 1e300, "'memory_mb' must be at most 4096"),
    ],
)
def test_limits_have_a_ceiling(key, value, message):
    with pytest.raises(BindingError, match=re.escape(message)) as caught:
        parse_binding({"module": "m", "pattern": "^/", key: value})
    assert caught.value.field == key
    limits = parse_binding(
        {"module": "m", "pattern": "^/", "timeout_ms": 3_600_000, "memory_mb": 4096}
    ).limits
    assert (limits.timeout_ms, limits.memory_bytes) == (3_600_000, 4096 * 1024 * 1024)
