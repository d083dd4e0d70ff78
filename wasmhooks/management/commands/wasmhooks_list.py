"""`manage.py wasmhooks_list [--json]`: every module and binding, stored ones and settings ones.

By default two tables for people. With `--json`, one object for scripts, whose keys stay as
documented here (new keys may be added):

    {
      "modules": [
        {
          "name": "demo",
          "source": "database",        # or "settings" (WASMHOOKS_MODULES)
          "description": "",
          "active_version": 2,         # number of the version that runs; null: none (settings: null)
          "versions": 2,               # versions stored (settings: null)
          "sha256": "ab12...",         # of the active version or the settings file; null: none
          "size": 1234,                # bytes of the same; null: none
          "entry_points": ["on_request"],
          "path": null,                # the settings file (database: null)
          "error": null                # why a settings module does not load; else null
        }
      ],
      "bindings": [
        {
          "id": 3,                     # the database id (settings: null)
          "name": "db:3",              # its label in logs: "db:<id>" or "settings[<index>]" or its "name"
          "source": "database",        # or "settings" (WASMHOOKS_BINDINGS)
          "module": "demo",
          "pattern": "^/api/",
          "methods": ["GET"],          # null: every method
          "order": 0,
          "enabled": true,             # settings bindings are always enabled
          "timeout_ms": 20.0,          # null: WASMHOOKS_TIMEOUT_MS
          "memory_mb": null,           # null: WASMHOOKS_MEMORY_MB
          "fuel": null,                # null: WASMHOOKS_FUEL
          "on_error": "block",
          "isolate": false,
          "config": "",
          "note": "",
          "error": null                # why the binding is invalid and does not run; else null
        }
      ]
    }

Stored modules come first, by name, then settings modules in their order; stored bindings
come in the order they run, then settings bindings in theirs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from wasmhooks import registry
from wasmhooks.conf import conf
from wasmhooks.models import HookBinding, WasmModule
from wasmhooks.routing import BINDING_KEYS, BindingError, parse_binding
from wasmhooks.runtime import HookError

from ._options import format_table

SHORT_SHA256 = 12


class Command(BaseCommand):
    help = "List every module and binding, stored in the database or defined in settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="print one JSON object (documented in the command's module)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Print the modules and bindings, as tables or as JSON."""
        listing = {"modules": list_modules(), "bindings": list_bindings()}
        if options["json"]:
            self.stdout.write(json.dumps(listing, indent=2))
            return
        for line in human_lines(listing["modules"], listing["bindings"]):
            self.stdout.write(line)


def list_modules() -> list[dict[str, Any]]:
    """Every stored module, then every module in `WASMHOOKS_MODULES`, as JSON-ready dicts."""
    entries = []
    stored = WasmModule.objects.select_related("active_version").annotate(version_count=Count("versions"))
    for module in stored.order_by("name"):
        active = module.active_version
        entries.append(
            {
                "name": module.name,
                "source": "database",
                "description": module.description,
                "active_version": active.number if active else None,
                "versions": module.version_count,
                "sha256": active.sha256 if active else None,
                "size": active.size if active else None,
                "entry_points": list(active.entry_points) if active else [],
                "path": None,
                "error": None,
            }
        )
    settings_modules = conf.MODULES if isinstance(conf.MODULES, dict) else {}
    for name, path in settings_modules.items():
        entry: dict[str, Any] = {
            "name": name,
            "source": "settings",
            "description": "",
            "active_version": None,
            "versions": None,
            "sha256": None,
            "size": None,
            "entry_points": [],
            "path": str(path),
            "error": None,
        }
        try:
            loaded = registry.get_module(name)
        except HookError as exc:
            entry["error"] = exc.message
        else:
            entry.update(
                sha256=loaded.compiled.sha256,
                size=loaded.compiled.size,
                entry_points=list(loaded.summary.entry_points),
            )
        entries.append(entry)
    return entries


def list_bindings() -> list[dict[str, Any]]:
    """Every stored binding in run order, then every `WASMHOOKS_BINDINGS` entry, as JSON-ready dicts."""
    entries = []
    for binding in HookBinding.objects.select_related("module").order_by("order", "pk"):
        try:
            binding.to_binding()
        except BindingError as exc:
            error: str | None = str(exc)
        else:
            error = None
        entries.append(
            {
                "id": binding.pk,
                "name": binding.label,
                "source": "database",
                "module": binding.module.name,
                "pattern": binding.pattern,
                "methods": binding.method_list() or None,
                "order": binding.order,
                "enabled": binding.enabled,
                "timeout_ms": binding.timeout_ms,
                "memory_mb": binding.memory_mb,
                "fuel": binding.fuel,
                "on_error": binding.on_error,
                "isolate": binding.isolate,
                "config": binding.config,
                "note": binding.note,
                "error": error,
            }
        )
    raw_bindings = conf.BINDINGS if isinstance(conf.BINDINGS, list | tuple) else []
    for index, raw in enumerate(raw_bindings):
        entries.append(settings_binding(index, raw))
    return entries


def settings_binding(index: int, raw: Any) -> dict[str, Any]:
    """`WASMHOOKS_BINDINGS[index]` as listed: the values written there, the defaults for the rest."""
    label = f"settings[{index}]"
    entry: dict[str, Any] = {
        "id": None,
        "name": label,
        "source": "settings",
        "module": None,
        "pattern": None,
        "methods": None,
        "order": 0,
        "enabled": True,
        "timeout_ms": None,
        "memory_mb": None,
        "fuel": None,
        "on_error": "block",
        "isolate": False,
        "config": "",
        "note": "",
        "error": None,
    }
    try:
        parse_binding(raw, name=label)
    except BindingError as exc:
        entry["error"] = str(exc)
    if isinstance(raw, Mapping):
        entry.update({key: _json_ready(value) for key, value in raw.items() if key in BINDING_KEYS})
    return entry


def _json_ready(value: Any) -> Any:
    """A settings value as JSON can hold it: bytes as text, any collection as a list."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_ready(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return repr(value)


def human_lines(modules: list[dict[str, Any]], bindings: list[dict[str, Any]]) -> list[str]:
    """The listing as two tables, each followed by the problems it has."""
    lines = ["Modules:"]
    if modules:
        rows = [
            [
                module["name"],
                module["source"],
                f"v{module['active_version']}" if module["active_version"] is not None else "-",
                _cell(module["versions"]),
                (module["sha256"] or "-")[:SHORT_SHA256],
                ", ".join(module["entry_points"]) or "-",
            ]
            for module in modules
        ]
        lines += format_table(["NAME", "SOURCE", "ACTIVE", "VERSIONS", "SHA256", "ENTRY POINTS"], rows)
        lines += [f"  {module['name']}: {module['error']}" for module in modules if module["error"]]
    else:
        lines.append("  No modules.")
    lines.append("Bindings:")
    if bindings:
        rows = [
            [
                binding["name"],
                _cell(binding["module"]),
                _cell(binding["pattern"]),
                ", ".join(map(str, binding["methods"])) if isinstance(binding["methods"], list) else "*",
                _cell(binding["order"]),
                f"{binding['timeout_ms']:g} ms"
                if isinstance(binding["timeout_ms"], int | float)
                else "default",
                _cell(binding["on_error"]),
                "invalid" if binding["error"] else "enabled" if binding["enabled"] else "disabled",
            ]
            for binding in bindings
        ]
        lines += format_table(
            ["NAME", "MODULE", "PATTERN", "METHODS", "ORDER", "TIMEOUT", "ON ERROR", "STATE"], rows
        )
        lines += [f"  {binding['name']}: {binding['error']}" for binding in bindings if binding["error"]]
    else:
        lines.append("  No bindings.")
    return lines


def _cell(value: Any) -> str:
    """A value in a table: "-" for none."""
    return "-" if value is None else str(value)
