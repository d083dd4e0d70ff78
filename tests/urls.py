from django.contrib import admin
from django.urls import include, path, re_path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/hooks/", include("wasmhooks.api.urls")),
    path("stream/", views.streaming),
    path("cookie/", views.with_cookie),
    path("sized/", views.sized),
    path("greet/", views.greet),
    path("decorated/<str:item>/", views.decorated),
    path("decorated-async/<str:item>/", views.decorated_async),
    re_path(r"^async/.*$", views.async_echo),
    re_path(r"^.*$", views.echo),
]
