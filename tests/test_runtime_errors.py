from __future__ import annotations

import pytest

from wasmhooks.runtime import (
    HookABIError,
    HookError,
    HookFuelExhausted,
    HookHostError,
    HookMemoryExceeded,
    HookTimeout,
    HookTrap,
    ModuleInvalid,
)


def test_message_names_module_and_function() -> None:
    error = HookTrap("unreachable", module="auth", function="on_request")
    assert str(error) == "auth.on_request: unreachable"
    assert (error.message, error.module, error.function) == ("unreachable", "auth", "on_request")


def test_message_names_only_what_is_known() -> None:
    assert str(HookTrap("boom", module="auth")) == "auth: boom"
    assert str(HookTrap("boom", function="run")) == "run: boom"
    assert str(HookTrap("boom")) == "boom"


@pytest.mark.parametrize(
    ("error_class", "kind"),
    [
        (HookError, "error"),
        (HookTimeout, "timeout"),
        (HookFuelExhausted, "fuel"),
        (HookTrap, "trap"),
        (HookMemoryExceeded, "memory"),
        (HookABIError, "abi"),
        (HookHostError, "host"),
        (ModuleInvalid, "invalid"),
    ],
)
def test_every_failure_is_a_hook_error_with_its_kind(error_class: type[HookError], kind: str) -> None:
    error = error_class("x")
    assert isinstance(error, HookError)
    assert error.kind == kind


def test_fuel_exhaustion_counts_as_a_timeout() -> None:
    assert issubclass(HookFuelExhausted, HookTimeout)
