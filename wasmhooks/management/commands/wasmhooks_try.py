"""`manage.py wasmhooks_try NAME --path /x [options]`: run a module's hooks on a made-up request.

The trial is `wasmhooks.tryit.try_module`: the guest runs as under the middleware, on a fresh
instance with a throwaway key-value store, and nothing reaches the live site. A hook that
fails is reported, and the command then exits with an error, so scripts can test a module.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wasmhooks import registry, tryit
from wasmhooks.models import WasmModule
from wasmhooks.registry import LoadedModule, ModuleNotFound
from wasmhooks.routing import BindingError, positive_number
from wasmhooks.runtime import HookError


class Command(BaseCommand):
    help = (
        "Run a module's on_request and on_response hooks on a made-up request and show the "
        "response, the logs and any failure. The module is the stored one (its active version "
        "unless --version says otherwise) or, if none is stored, the one in WASMHOOKS_MODULES."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        """The parser, in which our `--version` (a module version) replaces Django's (its own version)."""
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the module to try")
        parser.add_argument("--path", required=True, help="the request path, optionally with ?query")
        parser.add_argument("--method", default="GET", help="the request method (default: GET)")
        parser.add_argument(
            "--header",
            action="append",
            default=[],
            metavar="'NAME: VALUE'",
            help="a request header; repeat for more",
        )
        body = parser.add_mutually_exclusive_group()
        body.add_argument("--body", help="the request body, as text")
        body.add_argument("--body-file", metavar="PATH", help="read the request body from a file")
        parser.add_argument("--version", type=int, help="the stored version to try (default: the active one)")
        parser.add_argument(
            "--timeout-ms", type=float, help="wall-clock limit per call (default: WASMHOOKS_TIMEOUT_MS)"
        )
        parser.add_argument("--config", default="", help="what the guest reads with config()")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the trial and print it.

        Raises `CommandError` for an unknown module or version, a bad header, method, path,
        timeout or body file, and, after printing the result, when the hook failed.
        """
        try:
            headers = tryit.parse_header_lines(options["header"])
        except ValueError as exc:
            raise CommandError(f"--header: {exc}") from None
        body = self.read_body(options["body"], options["body_file"])
        timeout_ms = options["timeout_ms"]
        if timeout_ms is not None:
            try:
                positive_number(timeout_ms, "timeout_ms", integer=False)
            except BindingError as exc:
                raise CommandError(f"--timeout-ms: {exc}") from None
        loaded = load(options["name"], options["version"])
        try:
            result = tryit.try_module(
                loaded,
                method=options["method"],
                path=options["path"],
                headers=headers,
                body=body,
                config=options["config"],
                limits=tryit.default_limits(timeout_ms),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            self.print_result(result)
        if result.failures:
            problems = "; ".join(f"{f.phase}: {f.kind}: {f.message}" for f in result.failures)
            raise CommandError(f"the hook failed: {problems}")

    def read_body(self, text: str | None, path: str | None) -> bytes:
        """The request body from `--body` or `--body-file`. Raises `CommandError` for an unreadable file."""
        if path is None:
            return (text or "").encode()
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None

    def print_result(self, result: tryit.TryResult) -> None:
        """The trial for people: status, who answered, headers, body, logs and failures."""
        if result.failures:
            outcome = "the hook failed"
        elif result.answered:
            outcome = "answered by the hook"
        else:
            outcome = "the hook let the request through to a stand-in view"
        status = f"Status: {result.status} ({outcome}) in {result.elapsed_ms:.3f} ms"
        self.stdout.write(self.style.ERROR(status) if result.failures else self.style.SUCCESS(status))
        self.stdout.write("Response headers:")
        for name, value in result.headers:
            self.stdout.write(f"  {name}: {value}")
        try:
            text = result.body.decode("utf-8")
        except UnicodeDecodeError:
            text = f"({len(result.body)} bytes, not UTF-8; base64) {base64.b64encode(result.body).decode()}"
        self.stdout.write(f"Body: {text}" if text else "Body: (empty)")
        if result.request_headers:
            self.stdout.write("Request headers as the view sees them:")
            for name, value in result.request_headers.items():
                self.stdout.write(f"  {name}: {value}")
        else:
            self.stdout.write("Request headers as the view sees them: (none)")
        if result.context:
            self.stdout.write("Context (request.wasmhooks):")
            for key, value in result.context.items():
                self.stdout.write(f"  {key} = {value}")
        if result.logs:
            self.stdout.write("Logs:")
            for line in result.logs:
                self.stdout.write(f"  [{line['level']}] {line['message']}")
        for failure in result.failures:
            self.stdout.write(
                self.style.ERROR(f"Failed in {failure.phase} ({failure.kind}): {failure.message}")
            )


def load(name: str, number: int | None) -> LoadedModule:
    """The module to try: the stored `name` (version `number`, or its active one), else the settings one.

    Raises `CommandError` when there is no such module or version, or it does not load.
    """
    module = WasmModule.objects.filter(name=name).select_related("active_version").first()
    if module is None:
        if number is not None:
            raise CommandError(f"No stored module named {name!r}; --version applies to stored modules only.")
        try:
            return registry.get_module(name)
        except ModuleNotFound:
            raise CommandError(f"No module named {name!r}, stored or in WASMHOOKS_MODULES.") from None
        except HookError as exc:
            raise CommandError(f"Module {name!r} does not load: {exc.message}") from None
    version = module.active_version if number is None else module.versions.filter(number=number).first()
    if version is None:
        if number is None:
            raise CommandError(f"Module {name!r} has no active version; choose one with --version.")
        raise CommandError(f"Module {name!r} has no version {number}.")
    try:
        return tryit.load_version(version)
    except HookError as exc:
        raise CommandError(f"Module {name!r} version {version.number} does not load: {exc.message}") from None
