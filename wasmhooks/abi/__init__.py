"""The host functions guests import, and what a module must look like to use them."""

from __future__ import annotations

from dataclasses import dataclass

from wasmhooks.runtime import CompiledModule, HostFunction, ModuleInvalid

from . import v1, wasi
from .state import HookCall, Phase, ResponseDraft

HOST_FUNCTIONS: tuple[HostFunction, ...] = v1.FUNCTIONS
ENTRY_POINTS = ("on_request", "on_response")
RESERVED_NAMES = frozenset({*ENTRY_POINTS, "_initialize", "_start", v1.ABI_MARKER})
"""Exports that are not callable with `wasmhooks.call`."""


@dataclass(frozen=True)
class ModuleSummary:
    """What a module offers: its ABI, entry points and functions callable from views."""

    abi: str
    entry_points: tuple[str, ...]
    callables: tuple[str, ...]
    uses_wasi: bool


def inspect_module(compiled: CompiledModule) -> ModuleSummary:
    """Check that `compiled` can run as a hook and describe it.

    Raises `ModuleInvalid`, naming every problem, when it lacks `memory` or the ABI marker,
    imports something the host does not provide (or a host function with the wrong type),
    exports an entry point or `_initialize` of the wrong type, or has nothing to call.
    """
    problems = []
    if "memory" not in compiled.memories:
        problems.append("it does not export its memory as 'memory'")
    if v1.ABI_MARKER not in compiled.functions:
        problems.append(f"it does not export the ABI marker function '{v1.ABI_MARKER}'")
    provided = {(f.module, f.name): (f.params, f.results) for f in HOST_FUNCTIONS}
    unknown = sorted(
        f"{module}.{name}"
        for module, name, kind in compiled.imports
        if not (
            (kind == "func" and (module, name) in provided)
            or (kind == "func" and module == wasi.IMPORT_MODULE and name in wasi.FUNCTION_NAMES)
        )
    )
    if unknown:
        problems.append("it imports what the host does not provide: " + ", ".join(unknown))
    # The linker refuses a host function imported with another type: catch that here too.
    mistyped = []
    for (module, name), signature in compiled.imported_functions.items():
        expected = provided.get((module, name))
        if expected and (signature.params, signature.results) != expected:
            params, results = (" ".join(types) for types in expected)
            mistyped.append(f"{module}.{name} must be ({params}) -> ({results})")
    if mistyped:
        problems.append("it imports host functions with the wrong type: " + ", ".join(sorted(mistyped)))
    callables = []
    for name, signature in sorted(compiled.functions.items()):
        returns_status = not signature.params and signature.results == ("i32",)
        if name in ENTRY_POINTS and not returns_status:
            problems.append(f"its '{name}' export is not a function () -> i32")
        elif name == "_initialize" and (signature.params or signature.results not in ((), ("i32",))):
            problems.append("its '_initialize' export is not a function () -> ()")
        elif name not in RESERVED_NAMES and returns_status:
            callables.append(name)
    entry_points = tuple(name for name in ENTRY_POINTS if name in compiled.functions)
    if not problems and not entry_points and not callables:
        problems.append("it exports no entry point (on_request, on_response) and no () -> i32 function")
    if problems:
        raise ModuleInvalid("not a wasmhooks module: " + "; ".join(problems))
    return ModuleSummary(
        abi="v1",
        entry_points=entry_points,
        callables=tuple(callables),
        uses_wasi=wasi.IMPORT_MODULE in compiled.import_modules,
    )


__all__ = [
    "ENTRY_POINTS",
    "HOST_FUNCTIONS",
    "RESERVED_NAMES",
    "HookCall",
    "ModuleSummary",
    "Phase",
    "ResponseDraft",
    "inspect_module",
    "v1",
    "wasi",
]
