"""`path("api/hooks/", include("wasmhooks.api.urls"))`: the API's routes under the namespace `wasmhooks-api`.

modules/                                    GET list, POST upload (multipart: name, description, file)
modules/{name}/                             GET, DELETE
modules/{name}/try/                         POST a made-up request (JSON)
modules/{name}/versions/                    GET list, POST upload (multipart: file, activate)
modules/{name}/versions/{number}/           GET
modules/{name}/versions/{number}/activate/  POST
bindings/                                   GET list (?module=name), POST
bindings/{id}/                              GET, PUT, PATCH, DELETE
schema/                                     the OpenAPI 3 schema (YAML, or JSON with ?format=json)
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from .views import MODULE_NAME_REGEX, BindingViewSet, ModuleViewSet, SchemaView, VersionViewSet

app_name = "wasmhooks-api"

router = SimpleRouter()
router.register("modules", ModuleViewSet, basename="module")
router.register(rf"modules/(?P<module_name>{MODULE_NAME_REGEX})/versions", VersionViewSet, basename="version")
router.register("bindings", BindingViewSet, basename="binding")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("schema/", SchemaView.as_view(), name="schema"),
]
