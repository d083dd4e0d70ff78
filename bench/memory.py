"""Growth of the process's resident memory (RSS) over many requests, after a warm-up.

In-process through Django's WSGI handler: no hook (the baseline), the typical hook (same
guest as `overhead.py`) with a warm instance and with a fresh instance per request, then
`wasmhooks.call` of an echo with 1 KB in and out (baseline: the same copy in Python). Each
variant is warmed up, then RSS is read (after `gc.collect()`) before and after a window of
1,000 requests and after a further window of 10,000, which exposes a slow leak that the
allocator's slack hides in the short one. Goal: each window grows RSS by less than 1 MB.
A control that keeps 1 KB per call shows that the reading does see a leak.

Run: `make bench`, or `.venv/bin/python bench/memory.py`. `BENCH_MEMORY_WARMUP`,
`BENCH_MEMORY_SHORT` and `BENCH_MEMORY_LONG` change the counts; `BENCH_QUICK=1` runs tiny ones.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common

_common.setup_django()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import RequestFactory  # noqa: E402

import wasmhooks  # noqa: E402
from bench._common import Row, count, print_table  # noqa: E402
from bench.call_vs_extism import PAYLOAD, WASMHOOKS_ECHO, python_echo  # noqa: E402

WARMUP = count("BENCH_MEMORY_WARMUP", 2_000, 100)
SHORT = count("BENCH_MEMORY_SHORT", 1_000, 100)
LONG = count("BENCH_MEMORY_LONG", 10_000, 300)
GOAL_KB = 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_kb() -> int:
    """The resident set size now, in KB, after a full collection."""
    gc.collect()
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * PAGE // 1024
    except OSError:  # not Linux: the peak is the best there is (ru_maxrss is KB on Linux/BSD)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def growth(step: Callable[[], object]) -> tuple[int, int]:
    """KB of RSS grown over SHORT calls of `step`, then over LONG more, after WARMUP calls."""
    for _ in range(WARMUP):
        step()
    before = rss_kb()
    for _ in range(SHORT):
        step()
    middle = rss_kb()
    for _ in range(LONG):
        step()
    return middle - before, rss_kb() - middle


def request_step(hooked: bool) -> Callable[[], object]:
    """One request through a new handler (made under the settings in force)."""
    environ = RequestFactory().get("/bench/", HTTP_X_API_KEY="k").environ
    handler = WSGIHandler()

    # Measure what was meant: the hook answers, and only where one is bound.
    status, headers = _common.serve_once(handler, environ)
    assert status.startswith("200") and (headers.get("X-Hook") == "ok") == hooked, (status, headers)

    def step() -> object:
        response = handler(dict(environ), _common.ignore_response)
        response.close()  # as a WSGI server does; it sends request_finished
        return response

    return step


def measure(settings: dict[str, object], step: Callable[[], Callable[[], object]]) -> tuple[int, int]:
    with _common.configured(**settings):
        return growth(step())


def main() -> None:
    call_command("migrate", verbosity=0)
    folder = _common.scratch_folder()
    (folder / "hook.wasm").write_bytes(_common.typical_hook())
    (folder / "echo.wasm").write_bytes(WASMHOOKS_ECHO)
    modules = {"hook": str(folder / "hook.wasm"), "echo": str(folder / "echo.wasm")}
    wasm = ["wasmhooks.middleware.WasmHooksMiddleware"]
    bound = {"module": "hook", "pattern": "^/bench/"}

    def hooked(**binding: object) -> dict[str, object]:
        return {
            "MIDDLEWARE": wasm,
            "WASMHOOKS_MODULES": modules,
            "WASMHOOKS_BINDINGS": [{**bound, **binding}],
        }

    def call() -> Callable[[], object]:
        return lambda: wasmhooks.call("echo", "echo", input=PAYLOAD)

    figures = {
        "no hook": measure({"MIDDLEWARE": []}, lambda: request_step(False)),
        "wasm, warm instance": measure(hooked(), lambda: request_step(True)),
        "wasm, fresh instance": measure(hooked(isolate=True), lambda: request_step(True)),
        "python echo": measure({}, lambda: lambda: python_echo(PAYLOAD)),
        "wasmhooks.call echo": measure({"WASMHOOKS_MODULES": modules}, call),
    }
    rows = []
    for name in ("wasm, warm instance", "wasm, fresh instance", "wasmhooks.call echo"):
        baseline_name = "python echo" if "call" in name else "no hook"
        for index, calls in enumerate((SHORT, LONG)):
            grown, baseline = figures[name][index], figures[baseline_name][index]
            rows.append(
                Row(
                    f"{name}, {calls:,} more",
                    f"{grown:+,} KB",
                    f"{baseline_name} {baseline:+,} KB",
                    "-",
                    f"< {GOAL_KB:,} KB",
                    grown < GOAL_KB,
                )
            )
    # The instrument can see a leak: 1 KB kept per call must show up as about 1 MB per 1,000.
    kept: list[bytes] = []
    control = growth(lambda: kept.append(bytes(1024)))[0]
    rows.append(Row(f"control: 1 KB kept per call, {SHORT:,} more", f"{control:+,} KB"))
    print_table(
        "memory: RSS growth after warm-up, in-process",
        rows,
        [f"{WARMUP:,} calls of warm-up; RSS from /proc/self/statm after gc.collect(); 1 MB = {GOAL_KB} KB"],
    )


if __name__ == "__main__":
    main()
