"""Compiled modules, cached by sha256 in memory and, signed, on disk (see `artifacts`).

Compiling a module takes tens of milliseconds to seconds; loading its sealed artifact from disk
takes about a millisecond, whatever its size. The processes of a host compile a module once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime

from . import engine as engine_module
from .artifacts import ArtifactStore, one_line
from .errors import ModuleInvalid

logger = logging.getLogger("wasmhooks.runtime")


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
    imported_functions: dict[tuple[str, str], FunctionSignature] = field(default_factory=dict)
    """The signature of every imported function, by (module, name)."""

    @property
    def import_modules(self) -> frozenset[str]:
        return frozenset(module for module, _name, _kind in self.imports)


_KINDS = {
    wasmtime.FuncType: "func",
    wasmtime.MemoryType: "memory",
    wasmtime.TableType: "table",
    wasmtime.GlobalType: "global",
}
_DESCRIPTION_FORMAT = 1


def _signature(functype: wasmtime.FuncType) -> FunctionSignature:
    return FunctionSignature(tuple(str(p) for p in functype.params), tuple(str(r) for r in functype.results))


def _describe(module: wasmtime.Module, sha256: str, size: int) -> CompiledModule:
    """`module` with what it imports and exports, asked of wasmtime (about 1 ms for a module
    that imports the 31 host functions: each answer crosses into C several times)."""
    functions: dict[str, FunctionSignature] = {}
    memories: dict[str, int] = {}
    for export in module.exports:
        kind = export.type
        if isinstance(kind, wasmtime.FuncType):
            functions[export.name] = _signature(kind)
        elif isinstance(kind, wasmtime.MemoryType):
            memories[export.name] = kind.limits.min * 65536
    imports = []
    imported_functions: dict[tuple[str, str], FunctionSignature] = {}
    for item in module.imports:
        kind, name = item.type, item.name or ""
        imports.append((item.module, name, _KINDS.get(type(kind), "other")))
        if isinstance(kind, wasmtime.FuncType):
            imported_functions[(item.module, name)] = _signature(kind)
    return CompiledModule(
        sha256=sha256,
        size=size,
        module=module,
        generation=engine_module.generation(),
        functions=functions,
        memories=memories,
        imports=tuple(imports),
        imported_functions=imported_functions,
    )


def _encode(compiled: CompiledModule) -> bytes:
    """What `compiled` imports and exports, stored with its artifact so a restart need not ask."""
    imported = compiled.imported_functions
    return json.dumps(
        {
            "format": _DESCRIPTION_FORMAT,
            "functions": {name: [s.params, s.results] for name, s in compiled.functions.items()},
            "memories": compiled.memories,
            "imports": compiled.imports,
            "imported_functions": [[m, n, s.params, s.results] for (m, n), s in imported.items()],
        },
        separators=(",", ":"),
    ).encode()


def _signature_of(params: list[str], results: list[str]) -> FunctionSignature:
    return FunctionSignature(tuple(params), tuple(results))


def _decode(description: bytes, module: wasmtime.Module, sha256: str, size: int) -> CompiledModule:
    """`module` with the description `_encode` stored; asked of wasmtime again if that was
    written in another format (by another version of wasmhooks)."""
    try:
        found = json.loads(description)
        if found["format"] != _DESCRIPTION_FORMAT:
            raise ValueError(found["format"])
        functions = {name: _signature_of(*types) for name, types in found["functions"].items()}
        imported = {(m, n): _signature_of(p, r) for m, n, p, r in found["imported_functions"]}
        imports = tuple((m, n, k) for m, n, k in found["imports"])
        memories = dict(found["memories"])
    except (ValueError, KeyError, TypeError):
        return _describe(module, sha256, size)
    return CompiledModule(
        sha256=sha256,
        size=size,
        module=module,
        generation=engine_module.generation(),
        functions=functions,
        memories=memories,
        imports=imports,
        imported_functions=imported,
    )


class ModuleCache:
    """Compile modules once per process, and once per host when `cache_dir` is set.

    The process keeps the `max_modules` most recently compiled; an entry dropped here stays
    alive as long as something else (a loaded module) holds it. On disk, see `artifacts`.
    Threads loading one module wait for each other; a thread loading another module does not
    wait for them, however long a compile (or another process's compile) takes.
    """

    def __init__(
        self, cache_dir: str | os.PathLike[str] | None, signing_key: bytes, max_modules: int = 256
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.disk = ArtifactStore(self.cache_dir, signing_key) if self.cache_dir else None
        self.max_modules = max_modules
        self._compiled: OrderedDict[str, CompiledModule] = OrderedDict()
        self._compiled_lock = engine_module.ForkSafeLock()  # held only to change `_compiled`
        self._loading = engine_module.KeyedLocks()  # held per sha256 while a module is loaded

    def load(self, wasm: bytes, *, keep: bool = True) -> CompiledModule:
        """Return the compiled form of `wasm`, compiling it only if no cache has it.

        With a cache folder, the processes of a host that load a new module at once compile
        it once: the others wait for it and load its artifact. With `keep=False` a module
        compiled here is not kept (in memory or on disk): for bytes that may yet be rejected;
        `keep()` it once accepted. Raises `ModuleInvalid` when the bytes are not a valid module.
        """
        sha256 = hashlib.sha256(wasm).hexdigest()
        compiled = self.cached(sha256)
        if compiled is not None:
            return compiled
        with self._loading.hold(sha256):
            compiled = self.cached(sha256)
            if compiled is None:
                compiled = self._load(sha256, wasm, keep)
                if keep:
                    self._remember(compiled)
            return compiled

    def load_known(self, sha256: str, size: int) -> CompiledModule | None:
        """The module whose bytes have this sha256 (and size), from memory or from a signed
        artifact in the cache folder, without the bytes; None when neither has it (load the
        bytes then). Never compiles."""
        compiled = self.cached(sha256)
        if compiled is not None or self.disk is None:
            return compiled
        with self._loading.hold(sha256):
            compiled = self.cached(sha256)
            if compiled is None:
                with self.disk.lock(sha256):
                    found = self.disk.load_checked(sha256)
                if found is None:
                    return None
                compiled = _decode(found[1], found[0], sha256, size)
                self._remember(compiled)
            return compiled

    def _load(self, sha256: str, wasm: bytes, keep: bool) -> CompiledModule:
        disk = self.disk
        found = disk.load_sealed(sha256) if disk else None
        if found is None and disk is not None and keep:
            # One process of the host compiles; the others wait here, then load its artifact.
            with disk.lock(sha256):
                found = disk.load_checked(sha256)
                if found is None:
                    compiled = _describe(self._compile(sha256, wasm), sha256, len(wasm))
                    disk.store(sha256, compiled.module, _encode(compiled))
                    return compiled
        if found is not None:
            module, description = found
            return _decode(description, module, sha256, len(wasm))
        return _describe(self._compile(sha256, wasm), sha256, len(wasm))

    def keep(self, compiled: CompiledModule) -> None:
        """Keep a module compiled with `load(keep=False)`, in memory and (if set) on disk."""
        with self._loading.hold(compiled.sha256):
            if self.cached(compiled.sha256) is not None:
                return
            disk = self.disk
            if disk is not None:
                with disk.lock(compiled.sha256):
                    if disk.load_sealed(compiled.sha256) is None:
                        disk.store(compiled.sha256, compiled.module, _encode(compiled))
            self._remember(compiled)

    def _remember(self, compiled: CompiledModule) -> None:
        with self._compiled_lock:
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
        native code is still valid, so it is loaded again (from its sealed artifact if there is
        one, else serialized and deserialized), never recompiled.
        """
        if compiled.generation == engine_module.generation():
            return compiled
        with self._loading.hold(compiled.sha256):
            current = self._compiled.get(compiled.sha256)
            if current is None or current.generation != engine_module.generation():
                module = self.module_for(engine_module.get_engine(), compiled)
                # What it imports and exports is the same for every Engine.
                current = dataclasses.replace(compiled, module=module, generation=engine_module.generation())
                self._remember(current)
            return current

    def module_for(self, engine: wasmtime.Engine, compiled: CompiledModule) -> wasmtime.Module:
        """The code of `compiled` loaded into `engine`, an Engine with the same settings as the
        process's (a pooled one, or the process's own after a fork): mapped from its sealed
        artifact when there is one (under a millisecond), else serialized and deserialized
        (tens of milliseconds for a module of 1 MB).
        """
        found = self.disk.load_sealed(compiled.sha256, engine) if self.disk else None
        if found is not None:
            return found[0]
        return wasmtime.Module.deserialize(engine, compiled.module.serialize())

    def _compile(self, sha256: str, wasm: bytes) -> wasmtime.Module:
        if wasm[:4] != b"\0asm":
            raise ModuleInvalid("not a WebAssembly binary (no \\0asm header)")
        started = time.perf_counter()
        try:
            module = wasmtime.Module(engine_module.get_engine(), wasm)
        except wasmtime.WasmtimeError as exc:
            raise ModuleInvalid(f"does not compile: {one_line(exc)}") from None
        elapsed_ms = (time.perf_counter() - started) * 1e3
        logger.debug("compiled module %s (%d bytes) in %.0f ms", sha256, len(wasm), elapsed_ms)
        return module
