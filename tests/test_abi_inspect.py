"""`inspect_module`: what makes a module a wasmhooks module, and what it offers."""

from __future__ import annotations

import re

import pytest

from tests.guests import guest, guest_wat
from tests.test_abi_support import HOST
from wasmhooks.abi import ModuleSummary, inspect_module
from wasmhooks.runtime import ModuleInvalid
from wasmhooks.testutils import wasm_from_wat

RETURN_0 = "(result i32) (i32.const 0)"


def inspect(wat: str) -> ModuleSummary:
    return inspect_module(HOST.compile(wasm_from_wat(wat)))


def problems(wat: str) -> str:
    with pytest.raises(ModuleInvalid) as raised:
        inspect(wat)
    return str(raised.value)


def test_a_module_is_described_by_its_entry_points_and_callables():
    body = f"""
      (func (export "on_response") {RETURN_0})
      (func (export "on_request") {RETURN_0})
      (func (export "stats") {RETURN_0})
      (func (export "audit") {RETURN_0})
      (func (export "_initialize"))
      (func (export "_start") {RETURN_0})
      (func (export "helper") (param i32) {RETURN_0})
      (func (export "no_status"))"""
    assert inspect(guest_wat(body)) == ModuleSummary(
        abi="v1", entry_points=("on_request", "on_response"), callables=("audit", "stats"), uses_wasi=False
    )


def test_a_module_with_only_callables_is_valid():
    summary = inspect(
        guest_wat(f'(func (export "report") {RETURN_0}) (func (export "_initialize") {RETURN_0})')
    )
    assert (summary.entry_points, summary.callables) == ((), ("report",))


@pytest.mark.parametrize(
    ("wat", "problem"),
    [
        (
            guest_wat(f'(func (export "on_request") {RETURN_0})').replace(
                '(memory (export "memory") 1)', "(memory 1)"
            ),
            "it does not export its memory as 'memory'",
        ),
        (
            guest_wat(f'(func (export "on_request") {RETURN_0})').replace(
                '(export "memory")', '(export "mem")'
            ),
            "it does not export its memory as 'memory'",
        ),
        (
            guest_wat(f'(func (export "on_request") {RETURN_0})', marker=False),
            "it does not export the ABI marker function 'wasmhooks_abi_v1'",
        ),
        (
            guest_wat('(func (export "on_request") (param i32) (result i32) (i32.const 0))'),
            "its 'on_request' export is not a function () -> i32",
        ),
        (
            guest_wat('(func (export "on_response"))'),
            "its 'on_response' export is not a function () -> i32",
        ),
        (
            guest_wat(f'(func (export "on_request") {RETURN_0}) (func (export "_initialize") (param i32))'),
            "its '_initialize' export is not a function () -> ()",
        ),
        (
            guest_wat('(func (export "helper") (param i32) (result i32) (i32.const 0)) (func (export "f"))'),
            "it exports no entry point (on_request, on_response) and no () -> i32 function",
        ),
    ],
    ids=[
        "memory-not-exported",
        "memory-misnamed",
        "no-marker",
        "on-request-with-params",
        "on-response-without-result",
        "initialize-with-params",
        "nothing-to-call",
    ],
)
def test_a_module_that_cannot_run_as_a_hook_is_rejected_with_the_reason(wat, problem):
    assert problems(wat) == f"not a wasmhooks module: {problem}"


def test_every_unknown_import_is_named_in_one_message():
    imports = """
      (import "env" "abort" (func))
      (import "wasmhooks" "nope" (func))
      (import "wasmhooks" "config" (global i32))
      (import "wasi_snapshot_preview1" "fd_write" (table 1 funcref))"""
    wat = guest_wat(f'(func (export "on_request") {RETURN_0})').replace("(module", "(module" + imports, 1)
    assert problems(wat).endswith(
        "it imports what the host does not provide: env.abort, wasi_snapshot_preview1.fd_write, "
        "wasmhooks.config, wasmhooks.nope"
    )


def test_host_functions_imported_with_the_wrong_type_are_named():
    wat = f"""(module
      (import "wasmhooks" "request_method" (func (param i64) (result i32)))
      (import "wasmhooks" "log" (func (param i32 i32 i32) (result i32)))
      (import "wasmhooks" "now_ms" (func (result i64)))
      (memory (export "memory") 1)
      (func (export "wasmhooks_abi_v1"))
      (func (export "on_request") {RETURN_0}))"""
    assert problems(wat).endswith(
        "it imports host functions with the wrong type: wasmhooks.log must be (i32 i32 i32) -> (), "
        "wasmhooks.request_method must be (i32 i32) -> (i32)"
    )


def test_all_problems_are_reported_together():
    wat = """(module
      (import "env" "abort" (func))
      (func (export "on_request")))"""
    message = problems(wat)
    for problem in ["memory", "ABI marker", "env.abort", "'on_request' export"]:
        assert problem in message
    assert len(re.findall("; ", message)) == 3


def test_a_module_importing_every_host_function_and_wasi_is_valid():
    wasi_import = '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
    wat = guest_wat(f'(func (export "on_request") {RETURN_0})').replace(
        "(module", "(module " + wasi_import, 1
    )
    assert inspect(wat).uses_wasi is True
    assert inspect_module(HOST.compile(guest(f'(func (export "on_request") {RETURN_0})'))).uses_wasi is False
