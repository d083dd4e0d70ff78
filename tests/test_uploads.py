"""The one upload check and store, shared by the admin, the API and the commands."""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.test import override_settings

from tests.guests import WASI_PRINTER, guest
from tests.wat import hook
from wasmhooks import uploads
from wasmhooks.models import WasmModule, WasmModuleVersion
from wasmhooks.registry import get_host
from wasmhooks.testutils import override_hooks, wasm_from_wat
from wasmhooks.uploads import activate, check_module, check_name, store_upload

REPO = Path(__file__).resolve().parent.parent
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


def test_version_numbers_are_never_reused():
    for value in range(3):
        store_upload("demo", hook(on_request=[value]))
    WasmModuleVersion.objects.get(number=3).delete()
    assert store_upload("demo", hook(on_request=[7])).version.number == 4


def test_versions_stored_by_other_means_are_counted():
    module = store_upload("demo", GOOD).module
    WasmModuleVersion.objects.create(module=module, number=5, binary=b"", sha256="f" * 64, size=0, abi="v1")
    assert store_upload("demo", OTHER).version.number == 6


CONCURRENT_UPLOADS = """
import sys
import django
django.setup()
from tests.wat import hook
from wasmhooks.uploads import store_upload
worker = int(sys.argv[1])
for index in range(12):
    store_upload("shared", hook(on_request=[worker * 100 + index]))
"""


def test_uploads_from_several_processes_to_one_sqlite_file(tmp_path):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.command_settings",
        "WASMHOOKS_COMMAND_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": str(REPO),
    }
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v0"],
        env=environment,
        cwd=tmp_path,
        check=True,
        timeout=120,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_UPLOADS, str(worker)],
            env=environment,
            cwd=tmp_path,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(3)
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], errors
    numbers = sqlite3.connect(tmp_path / "db.sqlite3").execute(
        "SELECT number FROM wasmhooks_wasmmoduleversion ORDER BY number"
    )
    assert [number for (number,) in numbers] == list(range(1, 37))


def test_a_rejected_upload_is_not_kept_compiled(tmp_path):
    rejected = wasm_from_wat(
        '(module (memory (export "memory") 1) (func (export "on_request") (result i32) i32.const 0))'
    )
    with override_settings(WASMHOOKS_CACHE_DIR=str(tmp_path)):
        host = get_host()
        with pytest.raises(ValidationError):
            check_module(rejected)
        assert host.modules.cached(hashlib.sha256(rejected).hexdigest()) is None
        assert list(tmp_path.iterdir()) == []
        report = check_module(GOOD)
        assert host.modules.cached(report.sha256) is not None
        assert sorted(path.suffix for path in tmp_path.iterdir()) == [".cwasm", ".lock", ".sig"]


def test_what_a_module_prints_while_checked_goes_nowhere(caplog):
    with caplog.at_level(logging.DEBUG):
        check_module(WASI_PRINTER)
    assert [r for r in caplog.records if "to stdout" in r.getMessage()] == []


def test_a_report_for_the_same_bytes_spares_a_second_check(monkeypatch):
    report = check_module(GOOD)
    checked = []
    real_check = uploads.check_module
    monkeypatch.setattr(uploads, "check_module", lambda wasm: checked.append(wasm) or real_check(wasm))
    store_upload("demo", GOOD, report=report)
    assert checked == []
    store_upload("demo", OTHER, report=report)  # a report of other bytes is not trusted
    assert checked == [OTHER]
    assert WasmModuleVersion.objects.count() == 2
