"""Hooks from view code: `call()` runs one exported function, `@hook` wraps one view."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponseBase

from wasmhooks import abi
from wasmhooks.abi.state import HookCall, Phase
from wasmhooks.runtime import HookABIError, HookError, Limits

from . import bridge, registry, snapshot
from .conf import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_MS, conf
from .pipeline import HookPipeline, report_failure
from .routing import Binding, BindingError, RouteMatch, parse_binding

View = TypeVar("View", bound=Callable[..., Any])


def call(
    module: str,
    function: str,
    input: bytes = b"",
    request: HttpRequest | None = None,
    timeout_ms: float | None = None,
    *,
    config: bytes | str = b"",
) -> bytes:
    """Run `function` of `module` with `input` and return what it wrote with `output`.

    With a `request`, the guest can read it and change its headers and `request.wasmhooks`
    values (applied only if the call succeeds); without, the request readers return -1.
    Raises `ModuleNotFound`, `ModuleInvalid`, or the `HookError` matching the failure (a
    non-zero return value is `HookABIError`); a failure is also logged, counted and
    signalled (phase "call") as a binding's would be.
    """
    if function in abi.RESERVED_NAMES:
        raise HookABIError(
            f"{function!r} is not callable with wasmhooks.call", module=module, function=function
        )
    limits = _limits(timeout_ms if timeout_ms is not None else conf.TIMEOUT_MS, conf.MEMORY_MB, conf.FUEL)
    config = config.encode() if isinstance(config, str) else bytes(config)
    try:
        loaded = snapshot.resolve(module, request)
        state = HookCall(
            phase=Phase.CALL,
            module=module,
            request=bridge.DjangoRequestSource(request) if request is not None else None,
            config=config,
            input=bytes(input),
            kv=bridge.CacheKeyValueStore.of(conf.KV_CACHE, module),
            logger=loaded.logger,
        )
        registry.get_host().call(
            loaded.compiled, function, limits=limits, state=state, label=module, expect=(0,)
        )
    except HookError as error:
        # Logged, counted and signalled like a binding's failure, then raised to the view.
        binding = Binding(module=module, pattern=None, name=f"call({function})", limits=limits, config=config)
        report_failure(binding, "call", error, request)
        raise
    if request is not None:
        bridge.apply_request_changes(request, state)
    return bytes(state.output)


@functools.lru_cache(maxsize=64)
def _limits(timeout_ms: float, memory_mb: float, fuel: int | None) -> Limits:
    """The limits of a call: the same few, built once each (raises `ValueError` as `Limits` does)."""
    return Limits(timeout_ms=timeout_ms, memory_bytes=int(memory_mb * 1024 * 1024), fuel=fuel)


async def acall(
    module: str,
    function: str,
    input: bytes = b"",
    request: HttpRequest | None = None,
    timeout_ms: float | None = None,
    *,
    config: bytes | str = b"",
) -> bytes:
    """`call()` for async views: the guest runs in a worker thread, off the event loop."""
    return await sync_to_async(call)(module, function, input, request, timeout_ms, config=config)


def hook(
    module: str,
    *,
    on_error: str = "block",
    config: bytes | str = b"",
    timeout_ms: float | None = None,
    memory_mb: float | None = None,
    fuel: int | None = None,
    isolate: bool = False,
    methods: Sequence[str] | None = None,
) -> Callable[[View], View]:
    """Decorate a view so that `module`'s `on_request`/`on_response` run around it.

    The guest's `route_param` reads the view's keyword arguments. Raises
    `ImproperlyConfigured` at decoration time for invalid arguments.
    """
    raw: dict[str, Any] = {"module": module, "on_error": on_error, "config": config, "isolate": isolate}
    for key, value in (
        ("timeout_ms", timeout_ms),
        ("memory_mb", memory_mb),
        ("fuel", fuel),
        ("methods", methods),
    ):
        if value is not None:
            raw[key] = value
    # Only the arguments are checked here: the limits left out follow the WASMHOOKS_* settings
    # per request, and a bad setting is the system checks' to report, not an import error here.
    given = {"timeout_ms": DEFAULT_TIMEOUT_MS, "memory_mb": DEFAULT_MEMORY_MB, "fuel": None, **raw}
    try:
        parse_binding(given, name=f"@hook({module})", require_pattern=False)
    except BindingError as exc:
        raise ImproperlyConfigured(f"@wasmhooks.hook: {exc}") from None

    def matches(request: HttpRequest, kwargs: dict[str, Any]) -> list[RouteMatch]:
        # Parsed per request so WASMHOOKS_* defaults follow the settings.
        binding = parse_binding(raw, name=f"@hook({module})", require_pattern=False)
        if binding.methods is not None and request.method not in binding.methods:
            return []
        return [RouteMatch(binding, {key: str(value) for key, value in kwargs.items()})]

    def decorator(view: View) -> View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                pipeline = HookPipeline(request, matches(request, kwargs))
                response = await sync_to_async(pipeline.before_view)()
                if response is None:
                    response = await view(request, *args, **kwargs)
                return await sync_to_async(pipeline.after_view)(response)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            pipeline = HookPipeline(request, matches(request, kwargs))
            response = pipeline.before_view()
            if response is None:
                response = view(request, *args, **kwargs)
            return pipeline.after_view(response)

        return wrapper  # type: ignore[return-value]

    return decorator
