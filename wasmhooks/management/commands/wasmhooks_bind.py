"""`manage.py wasmhooks_bind NAME --pattern PATTERN [options]`: bind a stored module to requests.

The binding is checked by `HookBinding.full_clean()` (the rules of `routing.parse_binding`)
before it is saved; saving it is noticed by every process within `WASMHOOKS_RELOAD_INTERVAL`.
Bound to a module with no active version, the binding fails closed: requests it matches are
answered 503 under `on_error="block"` (the default) until a version is activated.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from wasmhooks.forms import no_active_version_message

from ._options import add_binding_arguments, bound_message, build_binding, stored_module


class Command(BaseCommand):
    help = "Bind a stored module to the requests whose path matches a pattern."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the stored module to bind")
        parser.add_argument(
            "--pattern", required=True, help=r"a regular expression searched in the request path, e.g. ^/api/"
        )
        parser.add_argument("--disabled", action="store_true", help="create the binding switched off")
        add_binding_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        """Create the binding. Raises `CommandError` for an unknown module or an invalid option."""
        module = stored_module(options["name"])
        binding = build_binding(module, options["pattern"], options, enabled=not options["disabled"])
        binding.save()
        state = " It is disabled." if not binding.enabled else ""
        self.stdout.write(self.style.SUCCESS(bound_message(binding) + state))
        if module.active_version_id is None:
            self.stderr.write(self.style.WARNING(no_active_version_message(module)))
