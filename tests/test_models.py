"""The stored modules, versions and bindings, and their validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from tests.wat import hook
from wasmhooks.models import HookBinding, HooksRevision, WasmModule
from wasmhooks.routing import MIB
from wasmhooks.uploads import store_upload

GOOD = hook(on_request=[])
OTHER = hook(on_request=[1])


@pytest.fixture
def module() -> WasmModule:
    return store_upload("demo", GOOD).module


def test_strings(module):
    binding = HookBinding.objects.create(module=module, pattern="^/api/")
    assert str(module) == "demo"
    assert str(module.active_version) == "demo v1"
    assert str(binding) == "demo on ^/api/"
    assert str(HookBinding(pattern="^/")) == "? on ^/"
    assert binding.label == f"db:{binding.pk}"
    assert str(HooksRevision(number=4)) == "revision 4"


def test_a_version_is_immutable(module):
    version = module.active_version
    version.size = 1
    with pytest.raises(ValueError, match="immutable"):
        version.save()
    assert module.versions.get().size == len(GOOD)


def test_a_version_knows_whether_it_is_active(module):
    first = module.active_version
    assert first.is_active
    second = store_upload("demo", OTHER).version
    first.refresh_from_db()
    assert (first.is_active, second.is_active) == (False, True)


def test_a_module_cannot_run_another_modules_version(module):
    other = store_upload("other", OTHER).module
    module.active_version = other.active_version
    with pytest.raises(ValidationError) as caught:
        module.full_clean()
    assert caught.value.message_dict == {"active_version": ["That version belongs to another module."]}
    module.active_version = None
    module.full_clean()


def test_module_names_are_slugs():
    with pytest.raises(ValidationError) as caught:
        WasmModule(name="no spaces").full_clean()
    assert "name" in caught.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"pattern": "(unclosed"}, "pattern", "does not compile"),
        ({"methods": "GET, P0ST"}, "methods", "'methods' must be a list of HTTP methods"),
        ({"timeout_ms": 0}, "timeout_ms", "'timeout_ms' must be a positive number"),
        ({"timeout_ms": float("inf")}, "timeout_ms", "'timeout_ms' must be a positive number"),
        ({"memory_mb": 0.01}, "memory_mb", "at least one 64 KiB page"),
        ({"fuel": 2**63}, "fuel", "'fuel' must be at most"),
        ({"on_error": "ignore"}, "on_error", "'on_error' must be one of"),
    ],
)
def test_a_binding_is_validated_like_a_settings_binding(module, fields, field, message):
    binding = HookBinding(module=module, **{"pattern": "^/", **fields})
    with pytest.raises(ValidationError) as caught:
        binding.clean()
    assert list(caught.value.message_dict) == [field]
    assert message in caught.value.message_dict[field][0]


def test_a_binding_is_checked_before_its_module_is_saved():
    with pytest.raises(ValidationError) as caught:
        HookBinding(pattern="(unclosed").clean()
    assert list(caught.value.message_dict) == ["pattern"]
    HookBinding(pattern="^/").clean()
    with pytest.raises(ValidationError) as caught:
        HookBinding(pattern="^/").full_clean()
    assert "module" in caught.value.message_dict


def test_methods_are_normalised(module):
    binding = HookBinding(module=module, pattern="^/", methods=" get,POST, get ,")
    binding.clean()
    assert binding.methods == "GET, POST"
    assert binding.to_binding().methods == frozenset({"GET", "POST"})


def test_blank_limits_follow_the_settings(module):
    binding = HookBinding(module=module, pattern="^/")
    with override_settings(WASMHOOKS_TIMEOUT_MS=7, WASMHOOKS_MEMORY_MB=2, WASMHOOKS_FUEL=99):
        limits = binding.to_binding().limits
    assert (limits.timeout_ms, limits.memory_bytes, limits.fuel) == (7, 2 * MIB, 99)
    binding.timeout_ms, binding.memory_mb, binding.fuel = 20, 1, 5
    limits = binding.to_binding().limits
    assert (limits.timeout_ms, limits.memory_bytes, limits.fuel) == (20, MIB, 5)


def test_a_binding_as_a_settings_entry(module):
    binding = HookBinding.objects.create(
        module=module, pattern="^/x/", methods="GET", order=3, on_error="continue", config='{"a": 1}'
    )
    assert binding.as_settings_dict() == {
        "module": "demo",
        "pattern": "^/x/",
        "order": 3,
        "on_error": "continue",
        "config": '{"a": 1}',
        "isolate": False,
        "name": binding.label,
        "methods": ["GET"],
    }
    runtime = binding.to_binding()
    assert (runtime.name, runtime.config, runtime.blocks_on_error) == (binding.label, b'{"a": 1}', False)


def test_deleting_a_module_deletes_its_versions_and_bindings(module):
    HookBinding.objects.create(module=module, pattern="^/")
    module.delete()
    assert (WasmModule.objects.count(), HookBinding.objects.count()) == (0, 0)


def test_deleting_the_active_version_leaves_the_module_without_one(module):
    module.active_version.delete()
    module.refresh_from_db()
    assert module.active_version is None
