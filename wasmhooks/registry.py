"""Modules by name: where their bytes come from, compiled once and checked against the ABI.

One `WasmHost` serves the process; it is rebuilt when the cache folder or `SECRET_KEY`
setting changes. Loaded modules are kept by name until a setting changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from wasmhooks import abi
from wasmhooks.runtime import CompiledModule, HookError, ModuleInvalid, WasmHost
from wasmhooks.runtime.engine import ForkSafeLock

from .conf import conf


class ModuleNotFound(HookError):
    """No module of that name is defined."""

    kind = "not_found"


@dataclass(frozen=True)
class LoadedModule:
    """A named module ready to run: compiled, checked against the ABI, with its logger."""

    name: str
    compiled: CompiledModule
    summary: abi.ModuleSummary
    logger: logging.Logger

    def exports(self, function: str) -> bool:
        return function in self.compiled.functions


_host: WasmHost | None = None
_modules: dict[str, LoadedModule] = {}
_lock = ForkSafeLock()


def get_host() -> WasmHost:
    """The process's `WasmHost`, with ABI v1, the WASI sandbox and the signed disk cache."""
    global _host
    host = _host
    if host is None:
        with _lock:
            if _host is None:
                _host = WasmHost(
                    (*abi.HOST_FUNCTIONS, *abi.wasi.OVERRIDES),
                    cache_dir=conf.CACHE_DIR,
                    signing_key=conf.SECRET_KEY.encode(),
                    wasi_config=abi.wasi.sandbox_config,
                )
            host = _host
    return host


def load_wasm(wasm: bytes, name: str) -> LoadedModule:
    """Compile and check `wasm` as the module `name`.

    Raises `ModuleInvalid` when it does not compile or does not follow the ABI.
    """
    compiled = get_host().compile(wasm)
    try:
        summary = abi.inspect_module(compiled)
    except ModuleInvalid as exc:
        exc.module = name
        raise
    return LoadedModule(name, compiled, summary, logging.getLogger(f"wasmhooks.guest.{name}"))


def read_module_file(name: str) -> bytes:
    """The bytes of the module `name` from `WASMHOOKS_MODULES`.

    Raises `ModuleNotFound` for an unknown name and `ModuleInvalid` for an unreadable file.
    """
    modules = conf.MODULES
    path = modules.get(name) if isinstance(modules, dict) else None
    if path is None:
        raise ModuleNotFound(f"no module named {name!r} in WASMHOOKS_MODULES", module=name)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModuleInvalid(f"cannot read {path}: {exc.strerror}", module=name) from None


def get_module(name: str) -> LoadedModule:
    """The module `name`, compiled and checked, loaded on first use.

    Raises `ModuleNotFound` or `ModuleInvalid`.
    """
    loaded = _modules.get(name)
    if loaded is None:
        loaded = load_wasm(read_module_file(name), name)
        _modules[name] = loaded
    return loaded


def reset() -> None:
    """Forget loaded modules and the host; the next use builds them again."""
    global _host
    with _lock:
        _host = None
        _modules.clear()
