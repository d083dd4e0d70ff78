"""One catch-all view for the reload tests: it says which worker answered and, on request, what
that worker's hooks snapshot holds once the view has run.

`?sleep=S` waits S seconds first, so the request is in flight while changes are picked up.
The view is synchronous: under ASGI Django runs it in a thread of its own for each request
(its ASGI handler gives each request a `ThreadSensitiveContext`), so a sleeping request holds
neither the event loop nor the other requests of its worker.
`?module=NAME` adds `X-Revision` and `X-Module-Sha256` (the sha256 of the version of NAME in
force in this worker at the end of the view, or "none"); the view looks at the database if a
look is due, so the snapshot may be swapped under the request it is part of.
"""

from __future__ import annotations

import os
import time

from django.http import HttpRequest, HttpResponse
from django.urls import re_path

from wasmhooks import snapshot
from wasmhooks.runtime import HookError


def probe(request: HttpRequest) -> HttpResponse:
    delay = float(request.GET.get("sleep", "0"))
    if delay > 0:
        time.sleep(delay)
    response = HttpResponse(b"ok", content_type="text/plain")
    response["X-Pid"] = str(os.getpid())
    name = request.GET.get("module")
    if name:
        hooks = snapshot.current()
        response["X-Revision"] = str(hooks.revision)
        try:
            response["X-Module-Sha256"] = hooks.module(name).compiled.sha256
        except HookError:
            response["X-Module-Sha256"] = "none"
    return response


urlpatterns = [re_path(r"^.*$", probe)]
