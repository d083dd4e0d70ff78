from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.index),
    path("api/hello/", views.api_hello),
    path("greet/", views.greet),
    path("admin/", admin.site.urls),
    path("hooks-api/", include("wasmhooks.api.urls")),
]
