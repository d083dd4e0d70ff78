"""`path("api/hooks/", include("wasmhooks.api.urls"))`."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "wasmhooks-api"

urlpatterns: list[URLPattern | URLResolver] = []
