"""Per-request overhead of a hook, in-process through Django's WSGI handler.

The same logic several ways: a pure-Python middleware (`bench/middleware.py`), and the typical
WAT guest (reads the path and one request header, sets one response header: three host calls)
bound in settings with a warm instance, with a fresh instance per request (`isolate: True`),
and bound in the database. Each variant's overhead is its time per request minus that of a
minimal view with no hook, measured in the same rounds; the variants alternate over rounds and
the medians are printed, with ratios against the Python middleware. Every response is closed
as a WSGI server closes it (Django's `request_finished` handlers run), so the no-hook figure
includes that; settings change on the settings object itself (`_common.configured`), not
through `override_settings`, so that reading them costs what it costs in production. Last,
the cost of noticing stored changes: one `snapshot.current()` between two looks at the
database, against one `time.monotonic()`.

Run: `make bench`, or `.venv/bin/python bench/overhead.py`. `BENCH_REQUESTS` (per sample) and
`BENCH_ROUNDS` change the counts; `BENCH_QUICK=1` runs tiny ones.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

_common.setup_django()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from bench._common import Row, alternate, count, median, print_table, times  # noqa: E402
from wasmhooks import snapshot  # noqa: E402
from wasmhooks.models import HookBinding  # noqa: E402
from wasmhooks.uploads import store_upload  # noqa: E402

REQUESTS = count("BENCH_REQUESTS", 4000, 100)
ROUNDS = count("BENCH_ROUNDS", 5, 2)
WARMUP = count("BENCH_WARMUP", 200, 20)
CLOCK_CALLS = count("BENCH_CLOCK_CALLS", 200_000, 2_000)
FRESH_GOAL_US = 40.0
WARM_GOAL_RATIO = 1.5

Environ = dict[str, Any]


def _run(handler: WSGIHandler, environ: Environ, requests: int) -> None:
    for _ in range(requests):
        handler(dict(environ), _common.ignore_response).close()  # close() as a WSGI server does


@contextmanager
def _enabled(binding: HookBinding) -> Iterator[None]:
    """The stored binding in force for the block only (saving bumps the stored revision)."""
    binding.enabled = True
    binding.save()
    try:
        yield
    finally:
        binding.enabled = False
        binding.save()


def _sampler(
    environ: Environ, settings: dict[str, Any], hooked: bool, stored: HookBinding | None = None
) -> Callable[[], float]:
    """One sample: µs per request with these settings, after a warm-up in a new handler."""

    def sample() -> float:
        with _common.configured(**settings), _enabled(stored) if stored else nullcontext():
            handler = WSGIHandler()
            # Measure what was meant: the hook answers, and only where one is bound.
            status, headers = _common.serve_once(handler, environ)
            assert status.startswith("200") and ("X-Hook" in headers) == hooked, (settings, status, headers)
            _run(handler, environ, WARMUP)
            started = time.perf_counter()
            _run(handler, environ, REQUESTS)
            return (time.perf_counter() - started) / REQUESTS * 1e6

    return sample


def _ns_per_call(function: Callable[[], object]) -> Callable[[], float]:
    def sample() -> float:
        started = time.perf_counter()
        for _ in range(CLOCK_CALLS):
            function()
        return (time.perf_counter() - started) / CLOCK_CALLS * 1e9

    return sample


def main() -> None:
    call_command("migrate", verbosity=0)
    environ = RequestFactory().get("/bench/", HTTP_X_API_KEY="k").environ
    hook = _common.typical_hook()
    module = _common.scratch_folder() / "hook.wasm"
    module.write_bytes(hook)
    stored = HookBinding.objects.create(
        module=store_upload("stored-hook", hook).module, pattern="^/bench/", enabled=False
    )
    modules = {"hook": str(module)}
    wasm = ["wasmhooks.middleware.WasmHooksMiddleware"]

    def bound(**binding: Any) -> dict[str, Any]:
        return {"MIDDLEWARE": wasm, "WASMHOOKS_BINDINGS": [{"module": "hook", **binding}]}

    variants = {
        "no hook": _sampler(environ, {"MIDDLEWARE": []}, False),
        "python middleware": _sampler(
            environ, {"MIDDLEWARE": ["bench.middleware.PythonHeaderMiddleware"]}, True
        ),
        "wasmhooks, no match": _sampler(environ, bound(pattern="^/other/"), False),
        "wasm, warm instance": _sampler(environ, bound(pattern="^/bench/"), True),
        "wasm, fresh instance": _sampler(environ, bound(pattern="^/bench/", isolate=True), True),
        "wasm, stored binding": _sampler(
            environ, {"MIDDLEWARE": wasm, "WASMHOOKS_BINDINGS": []}, True, stored
        ),
    }
    with _common.configured(WASMHOOKS_MODULES=modules):
        samples = alternate(variants, ROUNDS)
    base = samples["no hook"]
    # Per-round differences, so that drift between rounds cancels out.
    overhead = {
        name: median([value - baseline for value, baseline in zip(values, base, strict=True)])
        for name, values in samples.items()
    }
    python = overhead["python middleware"]
    rows = [Row("no hook, µs/request", f"{median(base):.1f} µs")]
    for name in variants:
        if name == "no hook":
            continue
        figure = overhead[name]
        row = Row(f"{name}, overhead", f"{figure:.1f} µs", f"python {python:.1f} µs", times(figure / python))
        if name == "python middleware":
            row = Row(f"{name}, overhead", f"{figure:.1f} µs")
        elif name == "wasm, warm instance":
            goal, passed = f"≤ {WARM_GOAL_RATIO}x python", figure / python <= WARM_GOAL_RATIO
            row = dataclasses.replace(row, goal=goal, passed=passed)
        elif name == "wasm, fresh instance":
            goal, passed = f"≤ {FRESH_GOAL_US:.0f} µs", figure <= FRESH_GOAL_US
            row = dataclasses.replace(row, goal=goal, passed=passed)
        rows.append(row)
    snapshot.current()
    clock = alternate(
        {"current": _ns_per_call(snapshot.current), "monotonic": _ns_per_call(time.monotonic)}, ROUNDS
    )
    noticing, monotonic = median(clock["current"]), median(clock["monotonic"])
    rows.append(
        Row(
            "noticing stored changes",
            f"{noticing:.0f} ns",
            f"monotonic() {monotonic:.0f} ns",
            times(noticing / monotonic),
        )
    )
    print_table(
        "overhead: per request, in-process through WSGIHandler",
        rows,
        [f"{ROUNDS} rounds of {REQUESTS} requests per variant, alternated; medians of per-round differences"],
    )


if __name__ == "__main__":
    main()
