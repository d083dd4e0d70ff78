"""Running a module's hooks on a made-up request, for the admin, the API and `wasmhooks_try`.

The guest runs exactly as under the middleware (same pipeline, same ABI), with three
differences that keep a trial from touching the live site: a fresh instance, a key-value
store that starts empty and is thrown away, and failures that are returned rather than
logged, counted and signalled. When the hook lets the request through, a stand-in view
answers `200` with an empty body, so `on_response` has a response to work on.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpResponse, HttpResponseBase
from django.test.client import RequestFactory

from wasmhooks.abi import wasi
from wasmhooks.abi.state import KeyValueStore, MemoryKeyValueStore
from wasmhooks.runtime import HookError, Limits

from . import registry
from .conf import conf
from .models import WasmModuleVersion
from .pipeline import HookPipeline
from .routing import MIB, Binding, RouteMatch, RouteTable
from .snapshot import HooksSnapshot

TRY_BINDING_NAME = "try-it"
MAX_TIMEOUT_MS = 10_000
"""The longest timeout a trial may ask for: a trial runs in a web request, which servers
such as gunicorn give 30 s by default."""
STAND_IN_BODY = b""


@dataclass
class TryFailure:
    phase: str
    kind: str
    message: str


@dataclass
class TryResult:
    """What a trial produced. `answered` is True when `on_request` answered itself."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    answered: bool
    elapsed_ms: float
    logs: list[dict[str, str]] = field(default_factory=list)
    failures: list[TryFailure] = field(default_factory=list)
    request_headers: dict[str, str] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form; the body as text if it is UTF-8, else `body_base64`."""
        import base64

        data: dict[str, Any] = {
            "status": self.status,
            "headers": [list(pair) for pair in self.headers],
            "answered_by_hook": self.answered,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "logs": self.logs,
            "failures": [vars(failure) for failure in self.failures],
            "request_headers": self.request_headers,
            "context": self.context,
        }
        try:
            data["body"] = self.body.decode("utf-8")
        except UnicodeDecodeError:
            data["body_base64"] = base64.b64encode(self.body).decode("ascii")
        return data


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append({"level": record.levelname.lower(), "message": record.getMessage()})


class TryPipeline(HookPipeline):
    """The middleware's pipeline with a throwaway key-value store, collected logs and failures."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kv = MemoryKeyValueStore()
        self.collector = _LogCollector()
        # Not registered with logging.getLogger: its lines reach only this trial.
        self.logger = logging.Logger("wasmhooks.try", logging.DEBUG)
        self.logger.addHandler(self.collector)
        self.failures: list[TryFailure] = []
        # The guest's WASI stdout and stderr go to the trial's log lines too.
        self.wasi_config = functools.partial(wasi.sandbox_config, logger=self.logger)

    def key_value_store(self, binding: Binding) -> KeyValueStore:
        return self.kv

    def guest_logger(self, loaded: registry.LoadedModule) -> logging.Logger:
        return self.logger

    def failed(self, binding: Binding, phase: str, error: HookError) -> None:
        self.failures.append(TryFailure(phase, error.kind, error.message))


def default_limits(timeout_ms: float | None = None) -> Limits:
    return Limits(
        timeout_ms=timeout_ms if timeout_ms is not None else conf.TIMEOUT_MS,
        memory_bytes=int(conf.MEMORY_MB * MIB),
        fuel=conf.FUEL,
    )


def parse_header_lines(lines: Sequence[str]) -> list[tuple[str, str]]:
    """`["Name: value", ...]` as pairs. Raises `ValueError` naming a line without a colon or name."""
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or name.strip() != name or " " in name:
            raise ValueError(f"{line!r} is not a header: write it as Name: value")
        headers.append((name, value.strip()))
    return headers


def try_module(
    loaded: registry.LoadedModule,
    *,
    method: str = "GET",
    path: str = "/",
    headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    body: bytes = b"",
    config: bytes | str = b"",
    limits: Limits | None = None,
) -> TryResult:
    """Run `loaded`'s `on_request` and `on_response` on the request described.

    `path` may carry a query string. Raises `ValueError` for a method or path that cannot
    make a request; a failing guest is reported in `TryResult.failures`, not raised.
    """
    method = method.upper()
    if not method.isalpha() or not method.isascii():
        raise ValueError(f"{method!r} is not an HTTP method")
    if not path.startswith("/"):
        raise ValueError(f"the path must start with '/', not {path!r}")
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    combined: dict[str, str] = {}
    content_type = "application/octet-stream"
    for name, value in pairs:
        if name.lower() == "content-type":
            content_type = value
            continue
        key = name.lower()
        combined[key] = f"{combined[key]},{value}" if key in combined else value
    request = RequestFactory().generic(method, path, data=body, content_type=content_type, headers=combined)
    if "cookie" not in combined:
        request.META.pop("HTTP_COOKIE", None)  # RequestFactory adds an empty one
    binding = Binding(
        module=loaded.name,
        pattern=None,
        name=TRY_BINDING_NAME,
        limits=limits or default_limits(),
        on_error="block",
        config=config.encode() if isinstance(config, str) else bytes(config),
        isolate=True,
    )
    pipeline = TryPipeline(request, [RouteMatch(binding, {})])
    pipeline.hooks = _single_module(loaded)
    started = time.perf_counter()
    response: HttpResponseBase | None = pipeline.before_view()
    answered = response is not None and not pipeline.failures
    if response is None:
        response = HttpResponse(STAND_IN_BODY, content_type="text/plain; charset=utf-8")
    response = pipeline.after_view(response)
    elapsed_ms = (time.perf_counter() - started) * 1000
    content = response.content if isinstance(response, HttpResponse) else b""
    header_pairs = list(response.items())
    header_pairs += [("Set-Cookie", morsel.OutputString()) for morsel in response.cookies.values()]
    return TryResult(
        status=response.status_code,
        headers=header_pairs,
        body=content,
        answered=answered,
        elapsed_ms=elapsed_ms,
        logs=pipeline.collector.lines,
        failures=pipeline.failures,
        request_headers=dict(request.headers.items()),
        context=dict(getattr(request, "wasmhooks", {})),
    )


class _OneModule(HooksSnapshot):
    """A snapshot holding only the module on trial, even if settings define the same name."""

    def module(self, name: str) -> registry.LoadedModule:
        found = self.modules[name]
        assert not isinstance(found, HookError)
        return found


def _single_module(loaded: registry.LoadedModule) -> HooksSnapshot:
    return _OneModule(None, RouteTable([]), {loaded.name: loaded})


def load_version(version: WasmModuleVersion) -> registry.LoadedModule:
    """A stored version compiled and ready to try. Raises `ModuleInvalid` if it does not load."""
    return registry.load_wasm(bytes(version.binary), version.module.name)
