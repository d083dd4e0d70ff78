"""The one place an uploaded module is checked and stored, for the admin, the API and commands.

`check_module` compiles a binary, checks it against the ABI and instantiates it under the
default limits; `store_upload` then saves it as a new version (or finds the identical one)
in one transaction. Every rejection is a `ValidationError` whose message names what is wrong
and whose `code` says which rule it broke (`too_large` is the one an API answers 413).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import wasmtime
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from wasmhooks import abi
from wasmhooks.abi.state import HookCall, MemoryKeyValueStore, Phase
from wasmhooks.runtime import HookError, Limits, ModuleInvalid

from . import registry
from .conf import conf
from .models import WasmModule, WasmModuleVersion
from .routing import MIB, MODULE_NAME
from .snapshot import lock_for_writing

WASM_MAGIC = b"\0asm"


@dataclass(frozen=True)
class ModuleReport:
    """What `check_module` learned about a binary that passed."""

    sha256: str
    size: int
    summary: abi.ModuleSummary
    exports: list[str]
    imports: list[str]


@dataclass(frozen=True)
class UploadResult:
    """What `store_upload` did: the version in the database, and whether anything was created."""

    module: WasmModule
    version: WasmModuleVersion
    module_created: bool
    version_created: bool
    activated: bool


def check_name(name: str, *, new: bool = True) -> None:
    """Raise `ValidationError` unless `name` can name a database module."""
    if not isinstance(name, str) or not MODULE_NAME.match(name):
        raise ValidationError(
            "%(name)r is not a valid module name: use 1 to 64 letters, digits, '-' and '_'.",
            code="invalid_name",
            params={"name": name},
        )
    modules = conf.MODULES
    if new and isinstance(modules, dict) and name in modules:
        raise ValidationError(
            "A module named %(name)r is already defined in WASMHOOKS_MODULES.",
            code="name_in_settings",
            params={"name": name},
        )


def _quiet_wasi(label: str) -> wasmtime.WasiConfig:
    """WASI for the upload check: what the module prints while it starts goes nowhere."""
    silent = logging.Logger("wasmhooks.upload-check")  # not registered: no handler, no parent
    silent.addHandler(logging.NullHandler())
    return abi.wasi.sandbox_config(label, logger=silent)


def check_size(size: int) -> None:
    """Raise `ValidationError` (code `too_large`) for a module of `size` bytes over the limit.

    Call it with an upload's declared size before reading the file into memory.
    """
    limit = conf.MAX_MODULE_BYTES
    if size > limit:
        raise ValidationError(
            "The module is %(size)d bytes, over the limit of %(limit)d (WASMHOOKS_MAX_MODULE_BYTES).",
            code="too_large",
            params={"size": size, "limit": limit},
        )


def check_module(wasm: bytes) -> ModuleReport:
    """Check that `wasm` can be stored and run as a hook module.

    Raises `ValidationError` with code `too_large` (over `WASMHOOKS_MAX_MODULE_BYTES`),
    `empty`, `not_wasm` (no magic number), `invalid` (does not compile), `abi` (memory,
    marker, imports or entry points wrong; unknown imports are listed) or `instantiate`
    (fails to start under the default limits).
    """
    check_size(len(wasm))
    if not wasm:
        raise ValidationError("The file is empty.", code="empty")
    if not wasm.startswith(WASM_MAGIC):
        raise ValidationError(
            "This is not a WebAssembly binary (it does not start with \\0asm).", code="not_wasm"
        )
    host = registry.get_host()
    try:
        compiled = host.compile(wasm, keep=False)  # a rejected upload leaves nothing behind
    except ModuleInvalid as exc:
        raise ValidationError(
            "The module does not compile: %(error)s", code="invalid", params={"error": exc.message}
        ) from None
    try:
        summary = abi.inspect_module(compiled)
    except ModuleInvalid as exc:
        raise ValidationError("The module is %(error)s.", code="abi", params={"error": exc.message}) from None
    limits = Limits(timeout_ms=conf.TIMEOUT_MS, memory_bytes=int(conf.MEMORY_MB * MIB), fuel=conf.FUEL)
    try:
        state = HookCall(phase=Phase.CALL, module="(upload check)", kv=MemoryKeyValueStore())
        host.instantiate(compiled, limits, state=state, label="(upload check)", wasi_config=_quiet_wasi)
    except HookError as exc:
        raise ValidationError(
            "The module fails to start under the default limits (%(kind)s): %(error)s",
            code="instantiate",
            params={"kind": exc.kind, "error": exc.message},
        ) from None
    host.modules.keep(compiled)
    return ModuleReport(
        sha256=compiled.sha256,
        size=len(wasm),
        summary=summary,
        exports=sorted(compiled.functions),
        imports=sorted(f"{module}.{name}" for module, name, _kind in compiled.imports),
    )


def store_upload(
    name: str,
    wasm: bytes,
    *,
    user: Any = None,
    description: str | None = None,
    activate: bool = True,
    report: ModuleReport | None = None,
) -> UploadResult:
    """Check `wasm` and store it as the newest version of module `name` (created if new).

    `report` is `check_module`'s for these bytes when the caller already ran it (a form's
    validation); it is used only if its sha256 is theirs. Identical bytes already stored for
    that module are not stored again: the existing version is returned (and activated, if
    `activate`). Raises `ValidationError` from `check_name` or `check_module`; nothing is
    written then.
    """
    check_name(name, new=not WasmModule.objects.filter(name=name).exists())
    if report is None or report.sha256 != hashlib.sha256(wasm).hexdigest():
        report = check_module(wasm)
    with transaction.atomic():
        # Writing first takes SQLite's write lock at once (a read-then-write transaction can
        # fail with "database is locked" instead of waiting) and orders writers everywhere.
        lock_for_writing()
        module, module_created = WasmModule.objects.select_for_update().get_or_create(
            name=name, defaults={"description": description or ""}
        )
        if description is not None and not module_created and module.description != description:
            module.description = description
            module.save(update_fields=["description", "updated_at"])
        version = module.versions.filter(sha256=report.sha256).first()
        version_created = version is None
        if version is None:
            # Numbers are never reused, even after the newest version was deleted (rows
            # stored by other means are counted too).
            latest = module.versions.aggregate(latest=Max("number"))["latest"] or 0
            module.versions_created = max(module.versions_created, latest) + 1
            module.save(update_fields=["versions_created", "updated_at"])
            version = WasmModuleVersion.objects.create(
                module=module,
                number=module.versions_created,
                binary=wasm,
                sha256=report.sha256,
                size=report.size,
                abi=report.summary.abi,
                entry_points=list(report.summary.entry_points),
                exports=report.exports,
                imports=report.imports,
                uploaded_by=user if getattr(user, "is_authenticated", False) else None,
            )
        activated = activate and module.active_version_id != version.pk
        if activated:
            module.active_version = version
            module.save(update_fields=["active_version", "updated_at"])
    return UploadResult(module, version, module_created, version_created, activated)


def activate(version: WasmModuleVersion) -> bool:
    """Make `version` the one its module runs. Returns False if it already was."""
    with transaction.atomic():
        lock_for_writing()  # as in store_upload
        module = WasmModule.objects.select_for_update().get(pk=version.module_id)
        if module.active_version_id == version.pk:
            return False
        module.active_version = version
        module.save(update_fields=["active_version", "updated_at"])
    version.module = module
    return True
