"""Views the tests route requests to. They report what they saw as JSON.

Every view run is recorded in `calls` (its path), so a test can tell a skipped view from a
view whose response was replaced.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

import wasmhooks

calls: list[str] = []


def echo(request: HttpRequest, **kwargs: str) -> JsonResponse:
    calls.append(request.path)
    return JsonResponse(
        {
            "path": request.path,
            "method": request.method,
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "meta": {key: value for key, value in request.META.items() if key.startswith("HTTP_X_")},
            "context": getattr(request, "wasmhooks", None),
            "kwargs": kwargs,
        },
        headers={"Server": "tests", "X-View": "echo"},
    )


async def async_echo(request: HttpRequest, **kwargs: str) -> JsonResponse:
    return echo(request, **kwargs)


def streaming(request: HttpRequest) -> StreamingHttpResponse:
    calls.append(request.path)
    return StreamingHttpResponse(iter([b"chunk-1,", b"chunk-2"]), content_type="text/plain")


def with_cookie(request: HttpRequest) -> HttpResponse:
    calls.append(request.path)
    response = HttpResponse(b"cookie")
    response.set_cookie("view", "1")
    return response


def sized(request: HttpRequest) -> HttpResponse:
    calls.append(request.path)
    return HttpResponse(b"twelve bytes", headers={"Content-Length": "12"})


def greet(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("name", "world").encode()
    return HttpResponse(wasmhooks.call("calls", "greet", name, request=request))


@wasmhooks.hook("decorated", config="from-decorator")
def decorated(request: HttpRequest, item: str) -> JsonResponse:
    return echo(request, item=item)


@wasmhooks.hook("decorated")
async def decorated_async(request: HttpRequest, item: str) -> JsonResponse:
    return echo(request, item=item)


def loads(response: HttpResponse) -> dict[str, object]:
    return json.loads(response.content)  # type: ignore[no-any-return]
