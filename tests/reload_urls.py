"""One catch-all view for the reload tests: it says which worker answered and, on request, what
that worker's hooks snapshot holds once the view has run.

`?sleep=S` waits S seconds first, so the request is in flight while changes are picked up.
With `?until=SHA256` as well, the wait ends early, as soon as this worker runs that version of
`?module=NAME`: a request can stay in flight across a change however long it takes to notice.
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


def _sha256_in_force(name: str) -> tuple[int, str]:
    hooks = snapshot.current()
    try:
        return hooks.revision, hooks.module(name).compiled.sha256
    except HookError:
        return hooks.revision, "none"


def _wait(delay: float, name: str | None, until: str | None) -> None:
    deadline = time.monotonic() + delay
    while (remaining := deadline - time.monotonic()) > 0:
        if until and name and _sha256_in_force(name)[1] == until:
            return
        time.sleep(min(remaining, 0.05) if until else remaining)


def probe(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("module")
    _wait(float(request.GET.get("sleep", "0")), name, request.GET.get("until"))
    response = HttpResponse(b"ok", content_type="text/plain")
    response["X-Pid"] = str(os.getpid())
    if name:
        revision, sha256 = _sha256_in_force(name)
        response["X-Revision"] = str(revision)
        response["X-Module-Sha256"] = sha256
    return response


urlpatterns = [re_path(r"^.*$", probe)]
