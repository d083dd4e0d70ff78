"""Fakes and runners shared by the `test_abi_*` files (no tests here).

The ABI is tested without Django: guests run on a `WasmHost` holding the v1 host functions and
the WASI sandbox, with a `HookCall` built from the fakes below standing in for the request and
the shared key-value store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.guests import guest
from wasmhooks.abi import HOST_FUNCTIONS, HookCall, Phase, v1, wasi
from wasmhooks.abi.state import NotAnInteger
from wasmhooks.runtime import GuestInstance, Limits, WasmHost

HOST = WasmHost((*HOST_FUNCTIONS, *wasi.OVERRIDES), wasi_config=wasi.sandbox_config)
LIMITS = Limits(timeout_ms=2000)
SIGNATURES = {function.name: function for function in v1.FUNCTIONS}
PAGE = 65536
SLOT = 0
"""Where `probe` stores an i64 result."""
BUF = 1024
"""Where tests let host functions write."""
DATA = 8192
"""Where `place` puts the guest's constant strings."""


class FakeRequest:
    """A `RequestSource` with fixed answers; `body` may be an exception to raise.

    `header_reads` counts calls to `headers()`.
    """

    def __init__(
        self,
        *,
        method: str = "GET",
        path: str = "/items/7",
        query: str = "page=2&sort=name",
        headers: Mapping[str, str] | None = None,
        body: bytes | Exception | None = b"hello body",
        client_ip: str = "203.0.113.9",
        user: str | None = "alice",
        context: Mapping[str, str] | None = None,
    ) -> None:
        self._method, self._path, self._query = method, path, query
        self._headers = dict(headers if headers is not None else {"host": "example.com", "accept": "*/*"})
        self._body, self._client_ip, self._user = body, client_ip, user
        self._context = dict(context or {})
        self.header_reads = 0

    def method(self) -> str:
        return self._method

    def path(self) -> str:
        return self._path

    def query(self) -> str:
        return self._query

    def headers(self) -> Mapping[str, str]:
        self.header_reads += 1
        return self._headers

    def header(self, lower_name: str) -> str | None:
        return self._headers.get(lower_name)

    def body(self) -> bytes | None:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body

    def client_ip(self) -> str:
        return self._client_ip

    def user(self) -> str | None:
        return self._user

    def context(self) -> Mapping[str, str]:
        return self._context


class MemoryKV:
    """A `KeyValueStore` in a dict; `ttls` records what `set` was given."""

    def __init__(self, data: Mapping[bytes, bytes] | None = None) -> None:
        self.data = dict(data or {})
        self.ttls: dict[bytes, int] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes, ttl_seconds: int) -> None:
        self.data[key] = value
        self.ttls[key] = ttl_seconds

    def incr(self, key: bytes, delta: int) -> int:
        current = self.data.get(key, b"0")
        if not re.fullmatch(rb"-?[0-9]+", current):
            raise NotAnInteger(key)
        value = int(current) + delta
        self.data[key] = str(value).encode()
        return value

    def delete(self, key: bytes) -> bool:
        return self.data.pop(key, None) is not None


def hook_call(phase: Phase = Phase.REQUEST, **fields: Any) -> HookCall:
    """A `HookCall` for module "mod"; in REQUEST and RESPONSE it has a `FakeRequest` by default."""
    if phase is not Phase.CALL:
        fields.setdefault("request", FakeRequest())
    return HookCall(phase, "mod", **fields)


class Guest:
    """One instance of a guest module; its memory stays readable after a failed call.

    `WasmHost.call` is a per-thread pool around `GuestInstance`; the tests hold the instance
    themselves so they can look at guest memory afterwards.
    """

    def __init__(self, wasm: bytes, call: HookCall) -> None:
        self.state = call
        self.instance = GuestInstance(
            HOST.linker, HOST.compile(wasm), LIMITS, wasi.sandbox_config, "mod", call
        )
        self.result: int | None = None

    def __call__(self, function: str = "probe") -> int:
        self.result = self.instance.call(function, LIMITS, self.state)
        return self.result

    def read(self, ptr: int, length: int) -> bytes:
        return self.instance.read_memory(ptr, length)


def place(*values: bytes | str, at: int = DATA) -> tuple[dict[int, str], list[tuple[int, int]]]:
    """Lay `values` out from `at`: the `data` for `guest` and each value's (ptr, len)."""
    data, ranges = {}, []
    for value in values:
        raw = value.encode() if isinstance(value, str) else value
        if raw:
            data[at] = "".join(f"\\{byte:02x}" for byte in raw)
        ranges.append((at, len(raw)))
        at += len(raw)
    return data, ranges


def invoke(name: str, *args: int) -> str:
    """The WAT expression that calls host function `name` with constant arguments."""
    operands = " ".join(
        f"({kind}.const {arg})" for kind, arg in zip(SIGNATURES[name].params, args, strict=True)
    )
    return f"(call ${name} {operands})"


def probe_wasm(name: str, *args: int, data: dict[int, str] | None = None, pages: int = 1) -> bytes:
    """A guest whose `probe` calls `name`: it returns an i32 result, stores an i64 one at `SLOT`."""
    results = SIGNATURES[name].results
    body = invoke(name, *args)
    if results == ("i64",):
        body = f"(i64.store (i32.const {SLOT}) {body}) (i32.const 0)"
    elif not results:
        body = f"{body} (i32.const 0)"
    return guest(f'(func (export "probe") (result i32) {body})', data=data, memory_pages=pages)


def probe(name: str, *args: int, call: HookCall, data: dict[int, str] | None = None) -> Guest:
    """Run a `probe` that calls host function `name`; the Guest's `result` is its result.

    An i64 result is read back from guest memory; a function without one leaves `result` 0.
    """
    runner = Guest(probe_wasm(name, *args, data=data), call)
    runner()
    if SIGNATURES[name].results == ("i64",):
        runner.result = int.from_bytes(runner.read(SLOT, 8), "little", signed=True)
    return runner
