from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

import wasmhooks


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "index.html")


def api_hello(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"hello": "you passed the api-key hook"})


def greet(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("name", "world")
    greeting = wasmhooks.call("hello", "greet", name.encode())
    return HttpResponse(greeting, content_type="text/plain; charset=utf-8")
