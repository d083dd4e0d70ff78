"""Bindings (which module runs on which requests, under what limits) and matching them.

`parse_binding` is the one validator for a binding, whatever it comes from (settings, the
database, a decorator); a `RouteTable` matches requests against bindings in order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wasmhooks.runtime import Limits

from .conf import conf

ON_ERROR_CHOICES = ("block", "continue")
BINDING_KEYS = frozenset(
    {
        "module",
        "pattern",
        "methods",
        "order",
        "timeout_ms",
        "memory_mb",
        "fuel",
        "on_error",
        "config",
        "isolate",
        "name",
    }
)
_HTTP_METHOD = re.compile(r"^[A-Z]+$")
MIB = 1024 * 1024
WASM_PAGE_BYTES = 65536
MAX_FUEL = 2**63 - 1
MAX_TIMEOUT_MS = 3_600_000
"""An hour: longer is a mistake, and past a point the deadline would overflow."""
MAX_MEMORY_MB = 4096
"""All a 32-bit WebAssembly memory can address."""
# A slug of at most 64 characters, so names fit in cache keys and, later, database columns.
MODULE_NAME = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")


class BindingError(ValueError):
    """A binding is invalid. `field` names the offending key ("" for the binding as a whole)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Binding:
    """One module bound to requests: on paths matching `pattern` (searched in `request.path`)."""

    module: str
    pattern: re.Pattern[str] | None
    name: str = ""
    methods: frozenset[str] | None = None
    order: int = 0
    limits: Limits = field(default_factory=Limits)
    on_error: str = "block"
    config: bytes = b""
    isolate: bool = False

    @property
    def blocks_on_error(self) -> bool:
        return self.on_error == "block"


@dataclass(frozen=True)
class RouteMatch:
    """A binding that matched a request, with the named groups of its pattern."""

    binding: Binding
    params: Mapping[str, str | None]


def positive_number(value: Any, key: str, *, integer: bool) -> Any:
    """Return `value` if it is a positive, finite number (an int if `integer`); else raise `BindingError`."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value < math.inf:
        kind = "integer" if integer else "number"
        raise BindingError(f"'{key}' must be a positive {kind}, not {value!r}", key)
    return value


def parse_binding(raw: Any, *, name: str = "", require_pattern: bool = True) -> Binding:
    """Build a `Binding` from a dict as written in settings (or a decorator's arguments).

    Defaults come from `WASMHOOKS_TIMEOUT_MS`, `WASMHOOKS_MEMORY_MB` and `WASMHOOKS_FUEL`.
    Raises `BindingError` naming the first invalid key.
    """
    if not isinstance(raw, Mapping):
        raise BindingError(f"a binding must be a dict, not {type(raw).__name__}")
    unknown = sorted(set(raw) - BINDING_KEYS)
    if unknown:
        raise BindingError(f"unknown keys {unknown}; allowed: {sorted(BINDING_KEYS)}", unknown[0])
    module = raw.get("module")
    if not isinstance(module, str) or not MODULE_NAME.match(module):
        raise BindingError(f"'module' must be a module name, not {module!r}", "module")

    pattern_source = raw.get("pattern")
    pattern = None
    if pattern_source is not None or require_pattern:
        if not isinstance(pattern_source, str):
            raise BindingError(
                f"'pattern' must be a regular expression string, not {pattern_source!r}", "pattern"
            )
        try:
            pattern = re.compile(pattern_source)
        except re.error as exc:
            raise BindingError(f"'pattern' {pattern_source!r} does not compile: {exc}", "pattern") from None

    methods = raw.get("methods")
    if methods is not None:
        if (
            isinstance(methods, str)
            or not isinstance(methods, Sequence | set | frozenset)
            or not all(isinstance(m, str) and _HTTP_METHOD.match(m.upper()) for m in methods)
        ):
            raise BindingError(f"'methods' must be a list of HTTP methods, not {methods!r}", "methods")
        if not methods:
            raise BindingError("'methods' must not be empty; leave it out for every method", "methods")
        methods = frozenset(m.upper() for m in methods)

    order = raw.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int):
        raise BindingError(f"'order' must be an integer, not {order!r}", "order")

    timeout_ms = positive_number(raw.get("timeout_ms", conf.TIMEOUT_MS), "timeout_ms", integer=False)
    if timeout_ms > MAX_TIMEOUT_MS:
        raise BindingError(
            f"'timeout_ms' must be at most {MAX_TIMEOUT_MS} (an hour), not {timeout_ms!r}", "timeout_ms"
        )
    memory_mb = positive_number(raw.get("memory_mb", conf.MEMORY_MB), "memory_mb", integer=False)
    if memory_mb > MAX_MEMORY_MB:
        raise BindingError(f"'memory_mb' must be at most {MAX_MEMORY_MB}, not {memory_mb!r}", "memory_mb")
    if memory_mb * MIB < WASM_PAGE_BYTES:
        raise BindingError(f"'memory_mb' must allow at least one 64 KiB page, not {memory_mb!r}", "memory_mb")
    fuel = raw.get("fuel", conf.FUEL)
    if fuel is not None:
        fuel = positive_number(fuel, "fuel", integer=True)
        if fuel > MAX_FUEL:
            raise BindingError(f"'fuel' must be at most {MAX_FUEL}, not {fuel!r}", "fuel")

    on_error = raw.get("on_error", "block")
    if on_error not in ON_ERROR_CHOICES:
        raise BindingError(f"'on_error' must be one of {ON_ERROR_CHOICES}, not {on_error!r}", "on_error")

    config = raw.get("config", b"")
    if isinstance(config, str):
        config = config.encode("utf-8")
    if not isinstance(config, bytes):
        raise BindingError(f"'config' must be a string or bytes, not {type(config).__name__}", "config")

    isolate = raw.get("isolate", False)
    if not isinstance(isolate, bool):
        raise BindingError(f"'isolate' must be True or False, not {isolate!r}", "isolate")

    binding_name = raw.get("name", name)
    if not isinstance(binding_name, str):
        raise BindingError(f"'name' must be a string, not {binding_name!r}", "name")

    return Binding(
        module=module,
        pattern=pattern,
        name=binding_name,
        methods=methods,
        order=order,
        limits=Limits(timeout_ms=timeout_ms, memory_bytes=int(memory_mb * MIB), fuel=fuel),
        on_error=on_error,
        config=config,
        isolate=isolate,
    )


class RouteTable:
    """Bindings in the order they run (`order`, then position) and the means to match them."""

    def __init__(self, bindings: Sequence[Binding]) -> None:
        self.bindings = tuple(sorted(bindings, key=lambda b: b.order))

    def match(self, path: str, method: str) -> list[RouteMatch]:
        """Every binding whose methods include `method` and whose pattern is found in `path`."""
        matches = []
        for binding in self.bindings:
            if binding.methods is not None and method not in binding.methods:
                continue
            assert binding.pattern is not None
            found = binding.pattern.search(path)
            if found is not None:
                matches.append(RouteMatch(binding, found.groupdict()))
        return matches


def settings_bindings() -> list[Binding]:
    """The bindings in `WASMHOOKS_BINDINGS`. Raises `BindingError` for an invalid one."""
    raw_bindings = conf.BINDINGS
    if not isinstance(raw_bindings, list | tuple):
        raise BindingError("WASMHOOKS_BINDINGS must be a list of dicts")
    bindings = []
    for index, raw in enumerate(raw_bindings):
        try:
            bindings.append(parse_binding(raw, name=f"settings[{index}]"))
        except BindingError as exc:
            raise BindingError(f"WASMHOOKS_BINDINGS[{index}]: {exc}", exc.field) from None
    return bindings
