"""WAT guests for the tests, compiled at test time.

`guest(body, ...)` wraps function bodies in a module that imports every ABI v1 host function
under its own name (`$request_method`, `$kv_incr`...), exports `memory` and the ABI marker,
and places `data` strings at the given offsets.
"""

from __future__ import annotations

from wasmhooks.abi import HOST_FUNCTIONS
from wasmhooks.testutils import wasm_from_wat


def _imports() -> str:
    lines = []
    for function in HOST_FUNCTIONS:
        params = " ".join(function.params)
        results = " ".join(function.results)
        signature = (f"(param {params})" if params else "") + (f" (result {results})" if results else "")
        lines.append(f'(import "wasmhooks" "{function.name}" (func ${function.name} {signature}))')
    return "\n  ".join(lines)


def guest_wat(
    body: str, *, data: dict[int, str] | None = None, memory_pages: int = 1, marker: bool = True
) -> str:
    segments = "\n  ".join(f'(data (i32.const {offset}) "{text}")' for offset, text in (data or {}).items())
    return f"""(module
  {_imports()}
  (memory (export "memory") {memory_pages})
  {segments}
  {'(func (export "wasmhooks_abi_v1"))' if marker else ""}
  {body}
)"""


def guest(body: str, **kwargs: object) -> bytes:
    return wasm_from_wat(guest_wat(body, **kwargs))  # type: ignore[arg-type]


WASI_PRINTER = wasm_from_wat(r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "to stdout\nto stderr\n")
  (func (export "wasmhooks_abi_v1"))
  (func $write (param $fd i32) (param $at i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (i32.const 10))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 16))))
  (func (export "_initialize") (call $write (i32.const 1) (i32.const 64)))
  (func (export "on_request") (result i32)
    (call $write (i32.const 1) (i32.const 64))
    (call $write (i32.const 2) (i32.const 74))
    (i32.const 0)))""")
"""Prints "to stdout" from `_initialize`, then "to stdout" and "to stderr" from `on_request`."""
