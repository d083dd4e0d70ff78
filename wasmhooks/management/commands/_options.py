"""What the wasmhooks commands share: the binding options, building a binding from them, and tables.

The leading underscore keeps Django from listing this module as a command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from wasmhooks.conf import conf
from wasmhooks.models import HookBinding, WasmModule
from wasmhooks.routing import ON_ERROR_CHOICES

# The command-line flag of every binding option, keyed by its `HookBinding` field.
BINDING_FLAGS = {
    "methods": "--methods",
    "order": "--order",
    "timeout_ms": "--timeout-ms",
    "memory_mb": "--memory-mb",
    "fuel": "--fuel",
    "on_error": "--on-error",
    "isolate": "--isolate",
    "config": "--config",
    "note": "--note",
}


def add_binding_arguments(parser: CommandParser) -> None:
    """Add the options that describe a binding (all but its pattern) to `parser`."""
    group = parser.add_argument_group("binding options")
    group.add_argument(
        "--methods", help="HTTP methods separated by commas, e.g. GET,POST (default: every one)"
    )
    group.add_argument("--order", type=int, help="lower runs first (default: 0)")
    group.add_argument(
        "--timeout-ms", type=float, help="wall-clock limit per call (default: WASMHOOKS_TIMEOUT_MS)"
    )
    group.add_argument("--memory-mb", type=float, help="linear memory cap (default: WASMHOOKS_MEMORY_MB)")
    group.add_argument("--fuel", type=int, help="instruction budget per call (default: WASMHOOKS_FUEL)")
    group.add_argument(
        "--on-error",
        choices=ON_ERROR_CHOICES,
        help="block: answer 503 when the hook fails; continue: skip it (default: block)",
    )
    group.add_argument("--isolate", action="store_true", help="a fresh instance for every call")
    group.add_argument("--config", help="text the guest reads with config(); JSON is a good fit")
    group.add_argument("--note", help="a note for people reading the binding later")


def given_binding_flags(options: Mapping[str, Any]) -> list[str]:
    """The binding options that were given on the command line, as flags."""
    return [
        flag
        for field, flag in BINDING_FLAGS.items()
        if options[field] is not None and options[field] is not False
    ]


def build_binding(
    module: WasmModule,
    pattern: str,
    options: Mapping[str, Any],
    *,
    pattern_flag: str = "--pattern",
    enabled: bool = True,
) -> HookBinding:
    """An unsaved `HookBinding` of `module` from the binding options, checked by `full_clean()`.

    Raises `CommandError` naming each invalid option and what is wrong with it.
    """
    binding = HookBinding(
        module=module,
        pattern=pattern,
        methods=options["methods"] or "",
        order=options["order"] if options["order"] is not None else 0,
        enabled=enabled,
        timeout_ms=options["timeout_ms"],
        memory_mb=options["memory_mb"],
        fuel=options["fuel"],
        on_error=options["on_error"] or "block",
        isolate=options["isolate"],
        config=options["config"] or "",
        note=options["note"] or "",
    )
    try:
        binding.full_clean()
    except ValidationError as exc:
        flags = {**BINDING_FLAGS, "pattern": pattern_flag}
        problems = [
            f"{flags.get(field, field)}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        ]
        raise CommandError(f"Invalid binding: {'; '.join(problems)}") from None
    return binding


def stored_module(name: str) -> WasmModule:
    """The database module `name`. Raises `CommandError` if there is none."""
    module = WasmModule.objects.filter(name=name).first()
    if module is not None:
        return module
    settings_modules = conf.MODULES
    if isinstance(settings_modules, dict) and name in settings_modules:
        raise CommandError(
            f"Module {name!r} is defined in WASMHOOKS_MODULES, not stored in the database: "
            "its bindings are the ones in WASMHOOKS_BINDINGS."
        )
    raise CommandError(f"No stored module named {name!r}.")


def bound_message(binding: HookBinding) -> str:
    """`Bound demo to ^/api/ (binding 3).`, said once a binding is saved."""
    return f"Bound {binding.module.name} to {binding.pattern} (binding {binding.pk})."


def validation_message(error: ValidationError) -> str:
    """The messages of `error` as one line, for a `CommandError`."""
    return " ".join(error.messages)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """`rows` under `header` in left-aligned columns, one string a line, without trailing spaces."""
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    return [
        (indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))).rstrip()
        for row in (header, *rows)
    ]
