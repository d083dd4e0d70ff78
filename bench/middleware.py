"""The baseline: the benchmark hook's logic as plain Python middleware."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class PythonHeaderMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _path = request.path
        _key = request.headers.get("X-Api-Key")
        response = self.get_response(request)
        response["X-Hook"] = "ok"
        return response
