"""`WasmHooksMiddleware`: runs the bindings whose pattern matches each request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

from . import registry, snapshot
from .bridge import request_context
from .pipeline import HookPipeline

GetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class WasmHooksMiddleware:
    """Runs matching hooks around the view. Sync and async capable.

    In async mode guest code (and a due look at the database for changed hooks) runs through
    `sync_to_async`, so it never blocks the event loop. Requests that no binding matches cost
    one pattern search per binding.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse | AsyncGetResponse) -> None:
        self.get_response = get_response
        # The server loads its middleware as it starts: build the engine and linker there,
        # not on the first request. (Not in AppConfig.ready: a signal handler installed after
        # the engine's, such as pytest's faulthandler, would take guest traps for crashes.)
        registry.prepare()
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        get_response = cast(GetResponse, self.get_response)
        request_context(request)
        hooks = snapshot.current()
        snapshot.keep_on_request(request, hooks)
        matches = hooks.routes.match(request.path, request.method or "")
        if not matches:
            return get_response(request)
        pipeline = HookPipeline(request, matches, hooks)
        response = pipeline.before_view()
        if response is None:
            response = get_response(request)
        return pipeline.after_view(response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        get_response = cast(AsyncGetResponse, self.get_response)
        request_context(request)
        hooks = snapshot.cached() or await sync_to_async(snapshot.current)()
        snapshot.keep_on_request(request, hooks)
        matches = hooks.routes.match(request.path, request.method or "")
        if not matches:
            return await get_response(request)
        pipeline = HookPipeline(request, matches, hooks)
        response = await sync_to_async(pipeline.before_view)()
        if response is None:
            response = await get_response(request)
        return await sync_to_async(pipeline.after_view)(response)
