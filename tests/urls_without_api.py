"""A site that does not mount `wasmhooks.api.urls` (for the API system checks)."""

from django.urls import path

from . import views

urlpatterns = [path("", views.echo)]
