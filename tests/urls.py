from django.urls import path, re_path

from . import views

urlpatterns = [
    path("stream/", views.streaming),
    path("cookie/", views.with_cookie),
    path("sized/", views.sized),
    path("greet/", views.greet),
    path("decorated/<str:item>/", views.decorated),
    path("decorated-async/<str:item>/", views.decorated_async),
    re_path(r"^async/.*$", views.async_echo),
    re_path(r"^.*$", views.echo),
]
