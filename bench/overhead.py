"""Per-request overhead of a hook, in-process through Django's WSGI handler.

The same logic several ways: a pure-Python middleware, and a WAT guest (bound in settings
with a warm instance, then a fresh instance per call, then bound in the database) that reads
the path and one request header and sets one response header, i.e. three host calls.
Figures are microseconds over a minimal view with no hook, measured in this run, and ratios
against the Python middleware. Last, the cost of noticing stored changes: one call of
`snapshot.current()` between two looks at the database, against one `time.monotonic()`.
Run: `make bench`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402

from tests.guests import guest  # noqa: E402
from wasmhooks import snapshot  # noqa: E402
from wasmhooks.models import HookBinding  # noqa: E402
from wasmhooks.testutils import reset_state  # noqa: E402
from wasmhooks.uploads import store_upload  # noqa: E402

HOOK = guest(
    """
(func (export "on_request") (result i32)
  (drop (call $request_path (i32.const 256) (i32.const 256)))
  (drop (call $request_header (i32.const 0) (i32.const 9) (i32.const 512) (i32.const 256)))
  (drop (call $response_set_header (i32.const 16) (i32.const 6) (i32.const 32) (i32.const 2)))
  (i32.const 0))
""",
    data={0: "x-api-key", 16: "X-Hook", 32: "ok"},
)

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "4000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def per_request_us(handler: WSGIHandler, environ: dict[str, object]) -> float:
    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        pass

    for _ in range(200):  # warm-up
        handler(dict(environ), start_response)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(REQUESTS):
            handler(dict(environ), start_response)
        samples.append((time.perf_counter() - started) / REQUESTS * 1e6)
    return statistics.median(samples)


def per_call_ns(function: object, calls: int = 200_000) -> float:
    assert callable(function)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - started) / calls * 1e9)
    return statistics.median(samples)


def main() -> None:
    call_command("migrate", verbosity=0)
    environ = RequestFactory().get("/bench/", HTTP_X_API_KEY="k").environ
    folder = tempfile.mkdtemp(prefix="wasmhooks-bench-")
    module = Path(folder) / "hook.wasm"
    module.write_bytes(HOOK)
    variants = {
        "no hook": {"MIDDLEWARE": []},
        "python middleware": {"MIDDLEWARE": ["bench.middleware.PythonHeaderMiddleware"]},
        "wasmhooks, no match": {"WASMHOOKS_BINDINGS": [{"module": "hook", "pattern": "^/other/"}]},
        "wasm, warm instance": {"WASMHOOKS_BINDINGS": [{"module": "hook", "pattern": "^/bench/"}]},
        "wasm, fresh instance": {
            "WASMHOOKS_BINDINGS": [{"module": "hook", "pattern": "^/bench/", "isolate": True}]
        },
    }
    figures = {}
    for name, settings in variants.items():
        with override_settings(WASMHOOKS_MODULES={"hook": str(module)}, **settings):
            reset_state()
            figures[name] = per_request_us(WSGIHandler(), environ)
    stored = store_upload("stored-hook", HOOK).module
    HookBinding.objects.create(module=stored, pattern="^/bench/")
    reset_state()
    figures["wasm, stored binding"] = per_request_us(WSGIHandler(), environ)
    base = figures["no hook"]
    python = figures["python middleware"] - base
    print(f"{'variant':<24}{'µs/request':>12}{'overhead µs':>13}{'x python':>10}")
    for name, value in figures.items():
        overhead = value - base
        ratio = f"{overhead / python:.1f}" if name != "no hook" else "-"
        print(f"{name:<24}{value:>12.1f}{overhead:>13.1f}{ratio:>10}")
    snapshot.current()
    noticing = per_call_ns(snapshot.current)
    clock = per_call_ns(time.monotonic)
    print(
        f"\nnoticing stored changes: {noticing:.0f} ns per request ({noticing / clock:.1f}x one monotonic())"
    )


if __name__ == "__main__":
    main()
