"""System checks for wasmhooks' settings, with stable ids (`wasmhooks.E001`...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import DatabaseError, connection
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from wasmhooks.runtime import ModuleInvalid

from . import registry
from .conf import conf
from .routing import MAX_MEMORY_MB, MAX_TIMEOUT_MS, MODULE_NAME, BindingError, parse_binding, positive_number
from .snapshot import valid_reload_interval

MIDDLEWARE_PATH = "wasmhooks.middleware.WasmHooksMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"

_BINDING_FIELD_IDS = {"pattern": "wasmhooks.E006"}


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every wasmhooks check; registered in `WasmHooksConfig.ready()`."""
    return [
        *check_defaults(),
        *check_modules(),
        *check_bindings(),
        *check_middleware(),
        *check_api(),
    ]


def check_database(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Checks that read stored modules; run by `migrate` and `check --database default`."""
    if not databases or "default" not in databases:
        return []
    from .models import WasmModule

    settings_modules = conf.MODULES if isinstance(conf.MODULES, dict) else {}
    try:
        if WasmModule._meta.db_table not in connection.introspection.table_names():
            return []  # not migrated yet: `migrate` runs these checks before it creates the tables
        stored = set(WasmModule.objects.values_list("name", flat=True))
    except DatabaseError as exc:
        return [
            Error(f"wasmhooks cannot read stored modules: {exc}", hint="Run migrate.", id="wasmhooks.E012")
        ]
    errors: list[CheckMessage] = [
        Error(
            f"Module {name!r} is defined both in WASMHOOKS_MODULES and in the database.",
            hint="Rename or delete one of them; until then the settings one runs.",
            id="wasmhooks.E011",
        )
        for name in sorted(stored & set(settings_modules))
    ]
    bindings = conf.BINDINGS if isinstance(conf.BINDINGS, list | tuple) else []
    for index, raw in enumerate(bindings):
        module = raw.get("module") if isinstance(raw, dict) else None
        if isinstance(module, str) and module not in settings_modules and module not in stored:
            errors.append(
                Error(
                    f"WASMHOOKS_BINDINGS[{index}]: no module named {module!r}.",
                    hint="Define it in WASMHOOKS_MODULES or upload it.",
                    id="wasmhooks.E005",
                )
            )
    return errors


def check_defaults() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, value, integer in (
        ("WASMHOOKS_TIMEOUT_MS", conf.TIMEOUT_MS, False),
        ("WASMHOOKS_MEMORY_MB", conf.MEMORY_MB, False),
        ("WASMHOOKS_FUEL", conf.FUEL, True),
        ("WASMHOOKS_MAX_MODULE_BYTES", conf.MAX_MODULE_BYTES, True),
    ):
        if name == "WASMHOOKS_FUEL" and value is None:
            continue
        try:
            positive_number(value, name, integer=integer)
        except BindingError as exc:
            errors.append(Error(f"{exc}.", id="wasmhooks.E008"))
            continue
        limit = {"WASMHOOKS_TIMEOUT_MS": MAX_TIMEOUT_MS, "WASMHOOKS_MEMORY_MB": MAX_MEMORY_MB}.get(name)
        if limit is not None and value > limit:
            errors.append(Error(f"{name} must be at most {limit}, not {value!r}.", id="wasmhooks.E008"))
    if not isinstance(conf.KV_CACHE, str) or conf.KV_CACHE not in settings.CACHES:
        errors.append(
            Error(
                f"WASMHOOKS_KV_CACHE is {conf.KV_CACHE!r}, which is not an alias in CACHES.",
                hint=f"Use one of {sorted(settings.CACHES)}.",
                id="wasmhooks.E009",
            )
        )
    interval = conf.RELOAD_INTERVAL
    if not valid_reload_interval(interval):
        errors.append(
            Error(
                f"WASMHOOKS_RELOAD_INTERVAL must be a number of seconds, 0 or more, not {interval!r}.",
                id="wasmhooks.E008",
            )
        )
    errors.extend(_check_permission_classes())
    errors.extend(check_cache_dir())
    return errors


_NOT_CACHED = "so compiled modules are kept in memory only: every process compiles every module it runs."


def check_cache_dir() -> list[CheckMessage]:
    """E010 when `WASMHOOKS_CACHE_DIR` is not a path or None; W002 when compiled modules
    cannot be written there (the folder, or the nearest one that exists, is not writable)."""
    cache_dir = conf.CACHE_DIR
    if cache_dir is None:
        if not conf.cache_dir_unset:
            return []
        return [
            Warning(
                f"WASMHOOKS_CACHE_DIR is unset and this user has no home folder, {_NOT_CACHED}",
                hint="Set WASMHOOKS_CACHE_DIR to a folder this user may write, or to None.",
                id="wasmhooks.W002",
            )
        ]
    if not isinstance(cache_dir, str | Path):
        return [Error(f"WASMHOOKS_CACHE_DIR must be a path or None, not {cache_dir!r}.", id="wasmhooks.E010")]
    problem = _unwritable(Path(cache_dir))
    if problem is None:
        return []
    return [
        Warning(
            f"WASMHOOKS_CACHE_DIR is {str(cache_dir)!r}, but {problem}, {_NOT_CACHED}",
            hint="Set WASMHOOKS_CACHE_DIR to a folder this user may write, or to None.",
            id="wasmhooks.W002",
        )
    ]


def _unwritable(folder: Path) -> str | None:
    """Why compiled modules cannot be written in `folder` (created if missing), or None."""
    existing = folder
    while not os.path.exists(existing):
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"this user may not write in {existing}"
    return None


def _check_permission_classes() -> list[CheckMessage]:
    classes = conf.API_PERMISSION_CLASSES
    if isinstance(classes, str) or not isinstance(classes, list | tuple):
        return [
            Error("WASMHOOKS_API_PERMISSION_CLASSES must be a list of dotted paths.", id="wasmhooks.E013")
        ]
    errors: list[CheckMessage] = []
    for path in classes:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(Error(f"WASMHOOKS_API_PERMISSION_CLASSES: {exc}.", id="wasmhooks.E013"))
    return errors


def check_modules() -> list[CheckMessage]:
    modules = conf.MODULES
    if not isinstance(modules, dict) or not all(
        isinstance(name, str) and isinstance(path, str | Path) for name, path in modules.items()
    ):
        return [
            Error(
                "WASMHOOKS_MODULES must be a dict of module names to .wasm file paths.",
                id="wasmhooks.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for name, path in modules.items():
        if not MODULE_NAME.match(name):
            errors.append(
                Error(
                    f"WASMHOOKS_MODULES: {name!r} is not a valid module name.",
                    hint="Use up to 64 letters, digits, '-' and '_'.",
                    id="wasmhooks.E001",
                )
            )
            continue
        if not Path(path).is_file():
            errors.append(Error(f"WASMHOOKS_MODULES[{name!r}]: no file at {path}.", id="wasmhooks.E002"))
            continue
        try:
            registry.load_wasm(registry.read_module_file(name), name)
        except ModuleInvalid as exc:
            errors.append(Error(f"WASMHOOKS_MODULES[{name!r}] ({path}): {exc.message}.", id="wasmhooks.E003"))
    return errors


def check_bindings() -> list[CheckMessage]:
    bindings = conf.BINDINGS
    if not isinstance(bindings, list | tuple):
        return [Error("WASMHOOKS_BINDINGS must be a list of dicts.", id="wasmhooks.E004")]
    errors: list[CheckMessage] = []
    # Whether the module exists is check_database's (E005): it may be stored, not in settings.
    for index, raw in enumerate(bindings):
        try:
            parse_binding(raw)
        except BindingError as exc:
            check_id = _BINDING_FIELD_IDS.get(exc.field, "wasmhooks.E004")
            errors.append(Error(f"WASMHOOKS_BINDINGS[{index}]: {exc}.", id=check_id))
    return errors


SCHEMA_CLASS = "drf_spectacular.openapi.AutoSchema"


def check_api() -> list[CheckMessage]:
    """When `wasmhooks.api.urls` is mounted: the apps and the schema class it needs."""
    try:
        reverse("wasmhooks-api:schema")
    except NoReverseMatch:
        return []
    errors: list[CheckMessage] = []
    missing = [app for app in ("rest_framework", "drf_spectacular") if app not in settings.INSTALLED_APPS]
    if missing:
        errors.append(
            Error(
                f"The wasmhooks API is mounted but {missing} not in INSTALLED_APPS.",
                hint="Add them: DRF's browsable pages and drf-spectacular's schema need their templates.",
                id="wasmhooks.E014",
            )
        )
    schema_class = getattr(settings, "REST_FRAMEWORK", {}).get("DEFAULT_SCHEMA_CLASS")
    if schema_class != SCHEMA_CLASS:
        errors.append(
            Error(
                "The wasmhooks API is mounted but REST_FRAMEWORK['DEFAULT_SCHEMA_CLASS'] is "
                f"{schema_class!r}, so its OpenAPI schema cannot be built.",
                hint=f"Set it to {SCHEMA_CLASS!r}.",
                id="wasmhooks.E014",
            )
        )
    return errors


def check_middleware() -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        if conf.BINDINGS:
            return [
                Error(
                    "WASMHOOKS_BINDINGS is set but the wasmhooks middleware is not installed.",
                    hint=f"Add {MIDDLEWARE_PATH!r} to MIDDLEWARE.",
                    id="wasmhooks.E007",
                )
            ]
        return []
    if AUTH_MIDDLEWARE_PATH in middleware and middleware.index(AUTH_MIDDLEWARE_PATH) > middleware.index(
        MIDDLEWARE_PATH
    ):
        return [
            Warning(
                "The wasmhooks middleware runs before AuthenticationMiddleware, so hooks never see the user.",
                hint=f"Move {MIDDLEWARE_PATH!r} after {AUTH_MIDDLEWARE_PATH!r}.",
                id="wasmhooks.W001",
            )
        ]
    return []
