"""Running the bindings that match one request around its view.

The nesting follows Django's own middleware: `on_request` runs binding by binding in order;
a binding that answers (returns 1) skips the view and every later binding; `on_response` then
runs in reverse order for every binding whose request phase succeeded, the answering one
included. A failed hook is logged, counted and signalled; under `on_error="block"` the request
is answered 503, under `"continue"` the binding is skipped for the rest of the request and
the failed call's changes are discarded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from wasmhooks import metrics
from wasmhooks.abi.state import HookCall, KeyValueStore, Phase, ResponseDraft
from wasmhooks.runtime import HookError
from wasmhooks.runtime.instance import WasiConfigFactory

from . import bridge, registry, snapshot
from .conf import conf
from .routing import Binding, RouteMatch
from .signals import hook_failed

logger = logging.getLogger("wasmhooks")

CONTINUE = 0
RESPOND = 1


def failure_response() -> HttpResponse:
    """What a blocking binding answers when its hook fails. It tells the client nothing more."""
    return HttpResponse(
        b"Service Unavailable: a request hook failed.\n",
        status=503,
        content_type="text/plain; charset=utf-8",
    )


def report_failure(binding: Binding, phase: str, error: HookError, request: HttpRequest | None) -> None:
    """Log, count and signal a failed hook."""
    label = binding.name or binding.module
    logger.warning(
        "wasmhooks: hook failed: module=%s binding=%s phase=%s kind=%s: %s",
        binding.module,
        label,
        phase,
        error.kind,
        error,
        # LogRecord already has a `module` attribute, so the extras are prefixed.
        extra={
            "hook_module": binding.module,
            "hook_binding": label,
            "hook_kind": error.kind,
            "hook_phase": phase,
        },
    )
    metrics.record_failure(binding.module, error.kind)
    hook_failed.send(sender=Binding, binding=binding, phase=phase, error=error, request=request)


def run_guest(
    binding: Binding,
    loaded: registry.LoadedModule,
    function: str,
    call: HookCall,
    allowed_results: Sequence[int],
    wasi_config: WasiConfigFactory | None = None,
) -> int:
    """Run one export under the binding's limits. Raises `HookError`, also for a bad result."""
    return registry.get_host().call(
        loaded.compiled,
        function,
        limits=binding.limits,
        state=call,
        label=loaded.name,
        isolate=binding.isolate,
        expect=allowed_results,
        wasi_config=wasi_config,
    )


_REQUEST_RESULTS = (CONTINUE, RESPOND)
_RESPONSE_RESULTS = (CONTINUE,)


class HookPipeline:
    """The hooks of one request: call `before_view()`, then the view if it returned None,
    then `after_view(response)`.

    Modules are resolved from `hooks`: the snapshot the request was matched against (by
    default the one the middleware kept on the request, else the one in force when
    `before_view` runs), so a request runs on the versions it started with even if a change
    is picked up meanwhile.
    """

    def __init__(
        self,
        request: HttpRequest,
        matches: Sequence[RouteMatch],
        hooks: snapshot.HooksSnapshot | None = None,
    ) -> None:
        self.request = request
        self.matches = matches
        self.hooks = hooks or snapshot.of_request(request)
        self.source = bridge.DjangoRequestSource(request)
        self.entered: list[tuple[RouteMatch, registry.LoadedModule]] = []
        self.pending_headers: list[ResponseDraft] = []

    def _new_call(
        self, match: RouteMatch, loaded: registry.LoadedModule, phase: Phase, draft: ResponseDraft
    ) -> HookCall:
        binding = match.binding
        return HookCall(
            phase=phase,
            module=binding.module,
            request=self.source,
            response=draft,
            route_params=match.params,
            config=binding.config,
            kv=self.key_value_store(binding),
            logger=self.guest_logger(loaded),
        )

    def key_value_store(self, binding: Binding) -> KeyValueStore:
        return bridge.CacheKeyValueStore.of(conf.KV_CACHE, binding.module)

    def guest_logger(self, loaded: registry.LoadedModule) -> logging.Logger:
        return loaded.logger

    wasi_config: WasiConfigFactory | None = None
    """WASI configuration for this request's guests; None: the host's (output to the guest's logger)."""

    def failed(self, binding: Binding, phase: str, error: HookError) -> None:
        """A hook failed: log, count and signal it."""
        report_failure(binding, phase, error, self.request)

    def before_view(self) -> HttpResponseBase | None:
        """Run `on_request` of each matching binding. Return a response to skip the view."""
        bridge.request_context(self.request)
        for match in self.matches:
            binding = match.binding
            try:
                if self.hooks is None:
                    self.hooks = snapshot.current()
                loaded = self.hooks.module(binding.module)
                if not loaded.exports("on_request"):
                    self.entered.append((match, loaded))
                    continue
                call = self._new_call(match, loaded, Phase.REQUEST, ResponseDraft())
                result = run_guest(binding, loaded, "on_request", call, _REQUEST_RESULTS, self.wasi_config)
            except HookError as error:
                self.failed(binding, "on_request", error)
                if binding.blocks_on_error:
                    return failure_response()
                continue
            self.entered.append((match, loaded))
            bridge.apply_request_changes(self.request, call)
            # Header changes are replayed in binding order on whatever response comes back:
            # the view's, or this guest's answer.
            self.pending_headers.append(call.response)
            if result == RESPOND:
                return bridge.answer_from(call.response)
        return None

    def after_view(self, response: HttpResponseBase) -> HttpResponseBase:
        """Apply pending header changes, then run `on_response` in reverse order."""
        for draft in self.pending_headers:
            bridge.apply_header_operations(response, draft)
        for match, loaded in reversed(self.entered):
            if not loaded.exports("on_response"):
                continue
            call = self._new_call(match, loaded, Phase.RESPONSE, bridge.draft_of(response))
            try:
                run_guest(match.binding, loaded, "on_response", call, _RESPONSE_RESULTS, self.wasi_config)
            except HookError as error:
                self.failed(match.binding, "on_response", error)
                if match.binding.blocks_on_error:
                    response = failure_response()
                continue
            bridge.apply_request_changes(self.request, call)
            bridge.apply_response_changes(response, call.response)
        return response


__all__ = ["HookPipeline", "failure_response", "report_failure", "run_guest"]
