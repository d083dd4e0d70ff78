"""Modules by name: where their bytes come from, compiled once and checked against the ABI.

One `WasmHost` serves the process; it is rebuilt when the cache folder or `SECRET_KEY`
setting changes. Loaded modules are kept by name until a setting changes.
"""

from __future__ import annotations

import logging
import re
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


logger = logging.getLogger("wasmhooks")
_SHA256 = re.compile("[0-9a-f]{64}")

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


def prepare() -> None:
    """Build the engine and the linker of host functions now, as the server starts, so that a
    process's first request does not (about 3 ms). A setting that breaks them is left for the
    system checks and the first use to report."""
    try:
        get_host().prepare()
    except Exception:  # never stop Django from starting
        logger.debug("wasmhooks: could not prepare the host at start-up", exc_info=True)


def load_wasm(wasm: bytes, name: str) -> LoadedModule:
    """Compile and check `wasm` as the module `name`.

    Raises `ModuleInvalid` when it does not compile or does not follow the ABI.
    """
    return _checked(get_host().compile(wasm), name)


def load_known(sha256: str, size: int, name: str) -> LoadedModule | None:
    """The module `name` whose bytes have this sha256, if this process or the host's cache
    folder has it compiled (so its bytes need not be fetched); else None.

    Raises `ModuleInvalid` when it does not follow the ABI.
    """
    if not _SHA256.fullmatch(sha256):  # a file name comes of it: never trust a row that far
        return None
    compiled = get_host().modules.load_known(sha256, size)
    return None if compiled is None else _checked(compiled, name)


def _checked(compiled: CompiledModule, name: str) -> LoadedModule:
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
