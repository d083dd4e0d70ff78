"""`manage.py wasmhooks_unbind ID [ID ...]` or `--module NAME [--pattern P]`: delete or disable bindings.

Each binding is deleted (or saved disabled) on its own, through the model, so the change
bumps the hooks revision and every process notices it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from wasmhooks.models import HookBinding

from ._options import stored_module


class Command(BaseCommand):
    help = "Delete (or, with --disable, switch off) stored bindings, chosen by id or by module."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", type=int, metavar="ID", help="ids of the bindings")
        parser.add_argument("--module", metavar="NAME", help="every binding of this stored module")
        parser.add_argument("--pattern", help="with --module: only its bindings with exactly this pattern")
        parser.add_argument("--disable", action="store_true", help="disable the bindings instead of deleting")

    def handle(self, *args: Any, **options: Any) -> None:
        """Delete or disable the bindings chosen, or none of them.

        Raises `CommandError` when the choice is ambiguous or matches nothing, or an id is unknown.
        """
        bindings = self.chosen(options["ids"], options["module"], options["pattern"])
        with transaction.atomic():
            for binding in bindings:
                described = f"binding {binding.pk} ({binding})"
                if not options["disable"]:
                    binding.delete()
                    self.stdout.write(self.style.SUCCESS(f"Deleted {described}."))
                elif binding.enabled:
                    binding.enabled = False
                    binding.save()
                    self.stdout.write(self.style.SUCCESS(f"Disabled {described}."))
                else:
                    self.stdout.write(f"Binding {binding.pk} ({binding}) was already disabled.")

    def chosen(self, ids: list[int], module_name: str | None, pattern: str | None) -> list[HookBinding]:
        """The bindings named by the arguments. Raises `CommandError` unless they name some."""
        if ids and module_name is not None:
            raise CommandError("Give binding ids or --module, not both.")
        if pattern is not None and module_name is None:
            raise CommandError("--pattern only applies with --module.")
        if ids:
            bindings = list(HookBinding.objects.filter(pk__in=ids).select_related("module"))
            missing = sorted(set(ids) - {binding.pk for binding in bindings})
            if missing:
                raise CommandError(f"No binding with id {', '.join(map(str, missing))}; nothing changed.")
            return bindings
        if module_name is None:
            raise CommandError("Give the ids of the bindings to remove, or --module NAME.")
        module = stored_module(module_name)
        found = module.bindings.select_related("module")
        if pattern is not None:
            found = found.filter(pattern=pattern)
        bindings = list(found)
        if not bindings:
            which = f" with pattern {pattern!r}" if pattern is not None else ""
            raise CommandError(f"Module {module.name} has no binding{which}.")
        return bindings
