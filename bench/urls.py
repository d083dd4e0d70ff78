from django.http import HttpRequest, HttpResponse
from django.urls import path


def minimal(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok")


urlpatterns = [path("bench/", minimal)]
