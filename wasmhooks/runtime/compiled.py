"""Compiled modules, cached by sha256 in memory and, signed, on disk.

Compiling a module takes tens of milliseconds to seconds; loading a serialized artifact takes
about a millisecond. A serialized artifact is native code, so a file in the cache folder is
loaded only when it carries our HMAC (keyed by the caller, from `SECRET_KEY` in Django) over
the module's sha256, the engine fingerprint and the artifact itself. Anything else in the
folder is ignored and overwritten, never run.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime

from . import engine as engine_module
from .errors import ModuleInvalid

logger = logging.getLogger("wasmhooks.runtime")

_SIGNATURE_BYTES = 32
_FILE_SUFFIX = ".cwasm"


@dataclass(frozen=True)
class FunctionSignature:
    params: tuple[str, ...]
    results: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class CompiledModule:
    """A module compiled for this process's Engine, with what it imports and exports."""

    sha256: str
    size: int
    module: wasmtime.Module = field(repr=False)
    generation: int
    functions: dict[str, FunctionSignature]
    memories: dict[str, int]
    """Exported memories by name, with their declared minimum size in bytes."""
    imports: tuple[tuple[str, str, str], ...]
    """(module, name, kind) of every import, kind being "func", "memory", "table" or "global"."""

    @property
    def import_modules(self) -> frozenset[str]:
        return frozenset(module for module, _name, _kind in self.imports)


def _valtype_name(valtype: wasmtime.ValType) -> str:
    return str(valtype)


def _describe(module: wasmtime.Module, sha256: str, size: int) -> CompiledModule:
    functions: dict[str, FunctionSignature] = {}
    memories: dict[str, int] = {}
    for export in module.exports:
        kind = export.type
        if isinstance(kind, wasmtime.FuncType):
            functions[export.name] = FunctionSignature(
                tuple(_valtype_name(p) for p in kind.params),
                tuple(_valtype_name(r) for r in kind.results),
            )
        elif isinstance(kind, wasmtime.MemoryType):
            memories[export.name] = kind.limits.min * 65536
    imports = []
    for item in module.imports:
        kind_name = {
            wasmtime.FuncType: "func",
            wasmtime.MemoryType: "memory",
            wasmtime.TableType: "table",
            wasmtime.GlobalType: "global",
        }.get(type(item.type), "other")
        imports.append((item.module, item.name or "", kind_name))
    return CompiledModule(
        sha256=sha256,
        size=size,
        module=module,
        generation=engine_module.generation(),
        functions=functions,
        memories=memories,
        imports=tuple(imports),
    )


class ModuleCache:
    """Compile modules once per process, and once per host when `cache_dir` is set.

    The process keeps the `max_modules` most recently compiled; an entry dropped here stays
    alive as long as something else (a loaded module) holds it.
    """

    def __init__(
        self, cache_dir: str | os.PathLike[str] | None, signing_key: bytes, max_modules: int = 256
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_modules = max_modules
        self._signing_key = hashlib.sha256(b"wasmhooks.compiled-module:" + signing_key).digest()
        self._compiled: OrderedDict[str, CompiledModule] = OrderedDict()
        self._lock = engine_module.ForkSafeLock()

    def load(self, wasm: bytes, *, keep: bool = True) -> CompiledModule:
        """Return the compiled form of `wasm`, compiling it only if no cache has it.

        With `keep=False` a module compiled here is not kept (in memory or on disk): for
        bytes that may yet be rejected; `keep()` it once accepted. Raises `ModuleInvalid`
        when the bytes are not a valid module.
        """
        sha256 = hashlib.sha256(wasm).hexdigest()
        compiled = self.cached(sha256)
        if compiled is not None:
            return compiled
        with self._lock:
            compiled = self.cached(sha256)
            if compiled is None:
                module = self._load_from_disk(sha256)
                from_disk = module is not None
                if module is None:
                    module = self._compile(wasm)
                compiled = _describe(module, sha256, len(wasm))
                if keep:
                    self._remember(compiled, on_disk=not from_disk)
            return compiled

    def keep(self, compiled: CompiledModule) -> None:
        """Keep a module compiled with `load(keep=False)`, in memory and (if set) on disk."""
        with self._lock:
            if self.cached(compiled.sha256) is None:
                self._remember(compiled, on_disk=True)

    def _remember(self, compiled: CompiledModule, *, on_disk: bool) -> None:
        if on_disk:
            self._store_on_disk(compiled.sha256, compiled.module)
        self._compiled[compiled.sha256] = compiled
        self._compiled.move_to_end(compiled.sha256)
        while len(self._compiled) > self.max_modules:
            self._compiled.popitem(last=False)

    def cached(self, sha256: str) -> CompiledModule | None:
        """The module already compiled for `sha256` in this process, if any."""
        compiled = self._compiled.get(sha256)
        if compiled is not None and compiled.generation == engine_module.generation():
            return compiled
        return None

    def refresh(self, compiled: CompiledModule) -> CompiledModule:
        """`compiled`, or the same module rebuilt for this Engine if it was built before a fork.

        A module compiled by the parent's Engine cannot be instantiated by the child's; its
        native code is still valid, so it is serialized and loaded again, never recompiled.
        """
        if compiled.generation == engine_module.generation():
            return compiled
        with self._lock:
            current = self._compiled.get(compiled.sha256)
            if current is None or current.generation != engine_module.generation():
                artifact = bytes(compiled.module.serialize())
                module = wasmtime.Module.deserialize(engine_module.get_engine(), artifact)
                current = _describe(module, compiled.sha256, compiled.size)
                self._compiled[compiled.sha256] = current
            return current

    def _compile(self, wasm: bytes) -> wasmtime.Module:
        if wasm[:4] != b"\0asm":
            raise ModuleInvalid("not a WebAssembly binary (no \\0asm header)")
        try:
            return wasmtime.Module(engine_module.get_engine(), wasm)
        except wasmtime.WasmtimeError as exc:
            raise ModuleInvalid(f"does not compile: {_one_line(exc)}") from None

    def _path(self, sha256: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{sha256}-{engine_module.fingerprint()}{_FILE_SUFFIX}"

    def _signature(self, sha256: str, artifact: bytes) -> bytes:
        message = f"{sha256}:{engine_module.fingerprint()}:".encode() + artifact
        return hmac.new(self._signing_key, message, hashlib.sha256).digest()

    def _load_from_disk(self, sha256: str) -> wasmtime.Module | None:
        path = self._path(sha256)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        signature, artifact = data[:_SIGNATURE_BYTES], data[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._signature(sha256, artifact)):
            logger.warning("ignoring unsigned or tampered compiled module %s", path)
            return None
        try:
            return wasmtime.Module.deserialize(engine_module.get_engine(), artifact)
        except wasmtime.WasmtimeError as exc:
            logger.warning("cannot load compiled module %s: %s", path, _one_line(exc))
            return None

    def _store_on_disk(self, sha256: str, module: wasmtime.Module) -> None:
        path = self._path(sha256)
        if path is None:
            return
        artifact = bytes(module.serialize())
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=_FILE_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(self._signature(sha256, artifact) + artifact)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            logger.warning("cannot write compiled module cache %s: %s", path, exc)


def _one_line(exc: BaseException) -> str:
    """wasmtime's message on one line: the summary, then each cause ("a: b: c")."""
    lines = [line.strip() for line in str(exc).splitlines()]
    parts = [line for line in lines if line and line != "Caused by:"]
    return ": ".join(parts) if parts else type(exc).__name__
