"""`manage.py wasmhooks_upload PATH --name NAME [--bind PATTERN ...]`: store a module, and maybe bind it.

The file is checked and stored by `wasmhooks.uploads.store_upload`, the same path the admin
and the API take. With `--bind`, the binding is created in the same transaction, so a binding
that does not validate leaves nothing stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from wasmhooks import uploads
from wasmhooks.models import HookBinding, WasmModule, WasmModuleVersion

from ._options import (
    add_binding_arguments,
    bound_message,
    build_binding,
    given_binding_flags,
    validation_message,
)


class Command(BaseCommand):
    help = (
        "Upload a .wasm file as a new version of a stored module (created if new) and make it the "
        "active one; with --bind, also bind it to the paths matching a pattern."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the .wasm file")
        parser.add_argument("--name", required=True, help="the module's name: letters, digits, '-' and '_'")
        parser.add_argument("--description", help="the module's description (replaces the stored one)")
        parser.add_argument(
            "--no-activate",
            action="store_false",
            dest="activate",
            help="store the version but keep the active one running",
        )
        parser.add_argument(
            "--bind", metavar="PATTERN", help="also bind the module to paths matching PATTERN"
        )
        add_binding_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Store the file and the binding, or nothing. Raises `CommandError` saying why not."""
        path = options["path"]
        name = options["name"]
        pattern = options["bind"]
        if pattern is None and given_binding_flags(options):
            raise CommandError(f"{', '.join(given_binding_flags(options))} only apply with --bind PATTERN.")
        try:
            wasm = Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        binding: HookBinding | None = None
        try:
            with transaction.atomic():
                result = uploads.store_upload(
                    name, wasm, description=options["description"], activate=options["activate"]
                )
                if pattern is not None:
                    binding = build_binding(result.module, pattern, options, pattern_flag="--bind")
                    binding.save()
        except ValidationError as exc:
            raise CommandError(f"Cannot upload {path}: {validation_message(exc)}") from None

        version = result.version
        state = "now active" if result.activated else _state(result.module, version)
        if result.module_created:
            self.stdout.write(self.style.SUCCESS(f"Created module {name}."))
        if result.version_created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Uploaded module {name} version {version.number} "
                    f"({version.size} bytes, sha256 {version.sha256}), {state}."
                )
            )
        else:
            self.stdout.write(f"Identical to {name} version {version.number}; nothing stored. It is {state}.")
        if binding is not None:
            self.stdout.write(self.style.SUCCESS(bound_message(binding)))


def _state(module: WasmModule, version: WasmModuleVersion) -> str:
    """Whether `version` is the one `module` runs, and if not, which one is."""
    if module.active_version_id == version.pk:
        return "active"
    active = module.active_version
    if active is None:
        return "not active (no version is; upload it again without --no-activate to activate it)"
    return f"not active (version {active.number} is; upload it again without --no-activate to activate it)"
