"""The one upload check and store, shared by the admin, the API and the commands."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.test import override_settings

from tests.guests import guest
from tests.wat import hook
from wasmhooks.models import WasmModule, WasmModuleVersion
from wasmhooks.testutils import override_hooks, wasm_from_wat
from wasmhooks.uploads import activate, check_module, check_name, store_upload

GOOD = hook(on_request=[], on_response=[])
OTHER = hook(on_request=[1])


def rejection(wasm: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check_module(wasm)
    return caught.value


def test_a_good_module_is_described():
    report = check_module(GOOD)
    assert report.size == len(GOOD)
    assert len(report.sha256) == 64
    assert report.summary.entry_points == ("on_request", "on_response")
    assert report.exports == ["on_request", "on_response", "wasmhooks_abi_v1"]
    assert "wasmhooks.log" in report.imports


@override_settings(WASMHOOKS_MAX_MODULE_BYTES=100)
def test_too_large():
    error = rejection(GOOD)
    assert error.code == "too_large"
    assert f"is {len(GOOD)} bytes, over the limit of 100" in error.messages[0]


@pytest.mark.parametrize(
    ("wasm", "code", "message"),
    [
        (b"", "empty", "The file is empty."),
        (b"MZ\x90\x00 an executable", "not_wasm", "not a WebAssembly binary"),
        (b"\0asm\x01\0\0\0\x99garbage", "invalid", "The module does not compile:"),
        (wasm_from_wat('(module (memory (export "memory") 1))'), "abi", "does not export the ABI marker"),
    ],
)
def test_rejections_say_what_is_wrong(wasm, code, message):
    error = rejection(wasm)
    assert error.code == code
    assert message in error.messages[0]


def test_unknown_imports_are_listed():
    wasm = wasm_from_wat(
        '(module (import "env" "fetch" (func (param i32))) (import "wasmhooks" "open_socket" (func))'
        ' (memory (export "memory") 1) (func (export "wasmhooks_abi_v1"))'
        ' (func (export "on_request") (result i32) (i32.const 0)))'
    )
    message = rejection(wasm).messages[0]
    assert "imports what the host does not provide: env.fetch, wasmhooks.open_socket" in message


def test_a_module_must_start_under_the_default_limits():
    failing_start = guest(
        '(func $boom unreachable) (func (export "_initialize") (call $boom))'
        ' (func (export "on_request") (result i32) (i32.const 0))'
    )
    error = rejection(failing_start)
    assert error.code == "instantiate"
    assert "fails to start under the default limits (trap)" in error.messages[0]
    too_much_memory = guest('(func (export "on_request") (result i32) (i32.const 0))', memory_pages=600)
    assert "(memory): module declares 39321600 bytes of memory" in rejection(too_much_memory).messages[0]
    with override_settings(WASMHOOKS_MEMORY_MB=64):
        check_module(too_much_memory)


@pytest.mark.parametrize("name", ["", "with space", "x" * 65, 5])
def test_invalid_names(name):
    with pytest.raises(ValidationError) as caught:
        check_name(name)
    assert caught.value.code == "invalid_name"


def test_a_name_defined_in_settings_cannot_be_stored():
    with override_hooks({"taken": GOOD}):
        with pytest.raises(ValidationError) as caught:
            store_upload("taken", GOOD)
        check_name("taken", new=False)
    assert caught.value.code == "name_in_settings"
    assert "already defined in WASMHOOKS_MODULES" in caught.value.messages[0]
    assert WasmModule.objects.count() == 0


def test_the_first_upload_creates_the_module_and_activates_it():
    user = User.objects.create(username="ada")
    result = store_upload("demo", GOOD, user=user, description="first")
    assert (result.module_created, result.version_created, result.activated) == (True, True, True)
    version = result.version
    assert (version.number, version.size, version.abi, version.uploaded_by) == (1, len(GOOD), "v1", user)
    assert version.entry_points == ["on_request", "on_response"]
    assert bytes(WasmModuleVersion.objects.get().binary) == GOOD
    assert result.module.active_version == version
    assert result.module.description == "first"


def test_identical_bytes_are_not_stored_again():
    first = store_upload("demo", GOOD).version
    store_upload("demo", OTHER)
    again = store_upload("demo", GOOD, activate=False)
    assert (again.version, again.version_created, again.module_created, again.activated) == (
        first,
        False,
        False,
        False,
    )
    assert WasmModuleVersion.objects.count() == 2
    rolled_back = store_upload("demo", GOOD)
    assert rolled_back.activated
    assert WasmModule.objects.get().active_version == first


def test_the_same_bytes_may_belong_to_two_modules():
    store_upload("a", GOOD)
    store_upload("b", GOOD)
    assert WasmModuleVersion.objects.count() == 2


def test_new_versions_are_numbered_and_may_stay_inactive():
    store_upload("demo", GOOD)
    result = store_upload("demo", OTHER, activate=False, user=AnonymousUser())
    assert (result.version.number, result.activated, result.version.uploaded_by) == (2, False, None)
    assert result.module.active_version.number == 1


def test_a_new_description_is_kept_and_none_leaves_it():
    store_upload("demo", GOOD, description="one")
    store_upload("demo", OTHER)
    assert WasmModule.objects.get().description == "one"
    store_upload("demo", OTHER, description="two")
    assert WasmModule.objects.get().description == "two"


def test_a_rejected_upload_stores_nothing():
    store_upload("demo", GOOD)
    with pytest.raises(ValidationError):
        store_upload("demo", b"\0asm\x01\0\0\0\x99garbage")
    with pytest.raises(ValidationError):
        store_upload("fresh", b"")
    assert list(WasmModule.objects.values_list("name", flat=True)) == ["demo"]
    assert WasmModuleVersion.objects.count() == 1


def test_activate_and_roll_back():
    first = store_upload("demo", GOOD).version
    second = store_upload("demo", OTHER).version
    assert activate(first) is True
    assert first.module.active_version == first
    assert activate(first) is False
    assert activate(second) is True
    assert WasmModule.objects.get().active_version == second
