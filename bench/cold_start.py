"""Cold start: the first request after a process restart, with a module of about 1 MB.

Goal (issue 6): under 5 ms when the compiled artifact is on disk, and one compile per host
when several processes meet a new module at once. Every figure is taken in fresh Python
processes (this script run with `--child`), each setting Django up with the benchmark
settings plus, before `django.setup()`, a cache folder and the module bound to POST /bench/
(in `WASMHOOKS_MODULES`, or stored in a SQLite file with a stored binding). Each child:

1. sends one GET /bench/ (no hook runs: the binding is for POST), which warms Django up
   (URL resolver, database connection, the hooks snapshot), then 20 more GETs;
2. sends the first POST /bench/, which runs the hook: engine, module (loaded from disk or
   compiled), linker, instance, call; then a second POST.

"First request" is the wall time of that first POST minus the median warm GET of the same
process: what the hook adds to the first request it runs in. A stored module is loaded when
the first look at the database builds the snapshot (the GET), so its figure adds the time
spent in that load, timed around `snapshot._fetch_binaries`, `registry.load_known` (a version
loaded from its artifact by sha256) and `registry.load_wasm`. The engine and the linker are
built when the middleware is loaded, which the first GET does.
Django's own first request (the first GET) is printed apart: no module changes it.

The breakdown times each step where it happens (wrappers installed in the child; a step's
time excludes the steps it calls); "the rest" is the first request minus every step. Medians
of `BENCH_COLD_ROUNDS` rounds. Figures are printed, never asserted; `BENCH_QUICK=1` runs one
round with a small module. Run: `make bench`, or `.venv/bin/python bench/cold_start.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import REPO, Row, count, median, print_table, scratch_folder

ROUNDS = count("BENCH_COLD_ROUNDS", 5, 1)
FUNCTIONS = count("BENCH_COLD_FUNCTIONS", 8400, 200)  # 8400: about 1 MB of code
TOGETHER = count("BENCH_COLD_PROCESSES", 4, 2)
GOAL_MS = 5.0
WARM_GETS = 20
BINDING = {"module": "big", "pattern": "^/bench/", "methods": ["POST"]}
RESULT = "cold-start-result "


def module_wat(functions: int) -> str:
    """Mostly code: `functions` functions with loops, memory and calls, and an `on_request`
    that calls two host functions and one of them."""
    from tests.guests import guest_wat

    bodies = []
    for n in range(functions):
        callee = f"(call $f{n + 1} (local.get $x))" if n + 1 < functions else "(local.get $x)"
        bodies.append(
            f"""(func $f{n} (param $x i32) (result i32) (local $a i32) (local $b i32)
  (local.set $a (i32.mul (local.get $x) (i32.const {n * 7 + 3})))
  (block $out (loop $top
    (br_if $out (i32.ge_u (local.get $b) (i32.const {n % 13 + 2})))
    (local.set $a (i32.xor (i32.add (local.get $a) (i32.load (i32.and (local.get $b) (i32.const 1020))))
      (i32.shl (local.get $a) (i32.const 3))))
    (i32.store (i32.and (local.get $a) (i32.const 1020)) (local.get $a))
    (local.set $b (i32.add (local.get $b) (i32.const 1)))
    (br $top)))
  (if (result i32) (i32.eq (local.get $x) (i32.const -1))
    (then {callee})
    (else (i32.add (local.get $a) (i32.rem_u (local.get $b) (i32.const {n % 97 + 1}))))))"""
        )
    bodies.append("""(func (export "on_request") (result i32)
  (drop (call $request_path (i32.const 256) (i32.const 256)))
  (drop (call $response_set_header (i32.const 16) (i32.const 6) (i32.const 32) (i32.const 2)))
  (drop (call $f0 (i32.const 7)))
  (i32.const 0))""")
    return guest_wat("\n".join(bodies), data={16: "X-Hook", 32: "ok"})


# The child: one process, one scenario.


class Spans:
    """Time spent in named steps, each step's time without the steps it calls."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._stack: list[float] = []  # time spent in children, per open step

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = self._stack.pop()
                self.totals[name] = self.totals.get(name, 0.0) + (elapsed - inner) * 1e3
                if self._stack:
                    self._stack[-1] += elapsed

        return timed

    def take(self) -> dict[str, float]:
        taken, self.totals = self.totals, {}
        return taken


def instrument(spans: Spans) -> None:
    """Wrap each step of the cold path (whatever exists of it in this version of the code)."""
    import wasmtime

    from wasmhooks import abi, registry, snapshot
    from wasmhooks.runtime import compiled, engine, host, instance

    def patch(owner: Any, attribute: str, name: str) -> None:
        original = (
            owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
        )
        if original is None:
            return
        if isinstance(original, classmethod):
            function = original.__func__
            wrapped = spans.wrap(name, function)
            setattr(owner, attribute, classmethod(lambda cls, *a, **k: wrapped(cls, *a, **k)))
        elif isinstance(original, property):
            assert original.fget is not None
            setattr(owner, attribute, property(spans.wrap(name, original.fget)))
        else:
            setattr(owner, attribute, spans.wrap(name, original))

    patch(engine, "_start", "engine")
    patch(engine, "get_pooled_engine", "pooled engine")
    patch(registry, "get_host", "host")
    linked = getattr(host, "_LinkedEngine", None)
    if linked is not None:
        patch(linked, "__init__", "linker")
        patch(linked, "prelink", "prelink")
    else:
        patch(host.WasmHost, "linker", "linker")
    patch(registry, "read_module_file", "read module file")
    patch(snapshot, "_fetch_binaries", "fetch stored binary")
    patch(registry, "load_wasm", "load_wasm (rest)")
    patch(registry, "load_known", "load a stored version from its artifact (rest)")
    patch(compiled.ModuleCache, "load", "ModuleCache.load: sha256, locks")
    patch(compiled.ModuleCache, "_compile", "compile")
    patch(compiled.ModuleCache, "_load_from_disk", "artifact read + verify")  # before this change
    patch(compiled.ModuleCache, "_store_on_disk", "serialize + write")
    try:
        from wasmhooks.runtime import artifacts
    except ImportError:
        pass
    else:
        for method in ("load_sealed", "load_checked"):
            patch(artifacts.ArtifactStore, method, "artifact read + verify")
        patch(artifacts.ArtifactStore, "store", "serialize + write")
    patch(wasmtime.Module, "deserialize", "deserialize")
    patch(wasmtime.Module, "deserialize_file", "deserialize")
    patch(compiled, "_describe", "describe (exports, imports)")
    patch(abi, "inspect_module", "ABI check")
    patch(instance.GuestInstance, "__init__", "instantiate")


def request(handler: Any, method: str) -> float:
    """Milliseconds to answer one request through the WSGI handler."""
    from django.test import RequestFactory

    factory = RequestFactory()
    environ = (
        factory.post("/bench/", b"", content_type="text/plain")
        if method == "POST"
        else factory.get("/bench/")
    ).environ

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        assert status.startswith("200"), status
        assert (method == "POST") == any(name == "X-Hook" for name, _value in headers), headers

    started = time.perf_counter()
    response = handler(environ, start_response)
    for _chunk in response:
        pass
    response.close()
    return (time.perf_counter() - started) * 1e3


def child(options: dict[str, Any]) -> dict[str, Any]:
    import bench.settings as settings_module

    settings_module.WASMHOOKS_CACHE_DIR = options["cache"]
    settings_module.WASMHOOKS_RELOAD_INTERVAL = 3600  # one look at the database, at the first request
    settings_module.DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": options["database"]}
    }
    if options["kind"] == "settings":
        settings_module.WASMHOOKS_MODULES = {"big": options["module"]}
        settings_module.WASMHOOKS_BINDINGS = [BINDING]
    from bench._common import setup_django

    setup_django()
    if options["kind"] == "setup":
        return set_up_database(options)
    from django.core.handlers.wsgi import WSGIHandler

    from wasmhooks.runtime import compiled

    spans = Spans()
    instrument(spans)
    compiles: list[str] = []
    real_compile = compiled.ModuleCache._compile
    compiled.ModuleCache._compile = lambda self, *args: compiles.append("x") or real_compile(self, *args)
    handler = WSGIHandler()
    first_get = request(handler, "GET")
    get_spans = spans.take()
    warm_get = median([request(handler, "GET") for _ in range(WARM_GETS)])
    spans.take()
    if "go" in options:  # start together with the other processes
        Path(options["ready"]).touch()
        while not os.path.exists(options["go"]):
            time.sleep(0.0005)
    first_post = request(handler, "POST")
    post_spans = spans.take()
    second_post = request(handler, "POST")
    return {
        "first_get": first_get,
        "warm_get": warm_get,
        "first_post": first_post,
        "second_post": second_post,
        "get_spans": get_spans,
        "post_spans": post_spans,
        "compiles": len(compiles),
    }


def set_up_database(options: dict[str, Any]) -> dict[str, Any]:
    """Migrate the SQLite file; with `store`, upload the module and bind it (stored binding)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if options.get("store"):
        from wasmhooks.models import HookBinding
        from wasmhooks.uploads import store_upload

        stored = store_upload("big", Path(options["module"]).read_bytes()).module
        HookBinding.objects.create(module=stored, pattern=BINDING["pattern"], methods="POST")
    return {}


def micro(options: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: one way of loading the artifact of the module, timed."""
    import hashlib

    import wasmtime

    from wasmhooks.runtime import engine

    wasm = Path(options["module"]).read_bytes()
    sha256 = hashlib.sha256(wasm).hexdigest()
    key = b"bench-not-secret"
    engine.get_engine()
    from wasmhooks.runtime.artifacts import ArtifactStore

    store = ArtifactStore(options["cache"], key)
    path = store.path(sha256, ".cwasm")
    what = options["what"]
    started = time.perf_counter()
    if what == "verify":
        description = store.path(sha256, ".sig").read_bytes()[64:]
        with open(path, "rb", buffering=0) as handle:
            store.sign(sha256, handle.read(), description)
    elif what == "bytes":
        artifact = path.read_bytes()
        started = time.perf_counter()
        wasmtime.Module.deserialize(engine.get_engine(), artifact)
    elif what == "file":
        wasmtime.Module.deserialize_file(engine.get_engine(), str(path))
    elif what == "sealed":
        assert store.load_sealed(sha256) is not None, "no sealed artifact"
    elif what == "compile":
        wasmtime.Module(engine.get_engine(), wasm)
    return {"ms": (time.perf_counter() - started) * 1e3, "artifact_bytes": path.stat().st_size}


def run_child(options: dict[str, Any], *, wait: bool = True) -> Any:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(options)]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, text=True)
    return collect(process) if wait else process


def collect(process: subprocess.Popen[str]) -> dict[str, Any]:
    output, _ = process.communicate(timeout=900)
    if process.returncode != 0:
        raise SystemExit(f"a child failed ({process.returncode}):\n{output}")
    line = next(line for line in output.splitlines() if line.startswith(RESULT))
    result: dict[str, Any] = json.loads(line[len(RESULT) :])
    return result


# The parent: scenarios, rounds, tables.


def hook_ms(result: dict[str, Any], stored: bool, get_baseline: float = 0.0) -> float:
    """What the hook added to the first request it ran in (see the module docstring).

    A stored module was loaded by the GET's first look at the database: the steps timed in
    that GET count, less `get_baseline`, what the same steps take there with no stored module.
    """
    added: float = result["first_post"] - result["warm_get"]
    if stored:
        added += sum(result["get_spans"].values()) - get_baseline
    return added


def main() -> None:
    from bench._common import setup_django

    setup_django()
    import wasmtime

    folder = scratch_folder()
    module = folder / "big.wasm"
    module.write_bytes(wasmtime.wat2wasm(module_wat(FUNCTIONS)))
    empty_db, stored_db, warm = folder / "empty.sqlite3", folder / "stored.sqlite3", folder / "warm-cache"
    base = {"module": str(module)}
    run_child({**base, "kind": "setup", "database": str(empty_db), "cache": str(folder / "setup-cache")})
    run_child({**base, "kind": "setup", "database": str(stored_db), "cache": str(warm), "store": True})
    scenarios = {
        "settings, compile": ("settings", str(empty_db), None),
        "settings, restart": ("settings", str(empty_db), str(warm)),
        "stored, compile": ("stored", str(stored_db), None),
        "stored, restart": ("stored", str(stored_db), str(warm)),
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in scenarios}
    for index in range(ROUNDS):
        names = list(scenarios)
        names = names[index % len(names) :] + names[: index % len(names)]
        for name in names:
            kind, database, cache = scenarios[name]
            fresh = folder / f"fresh-cache-{index}-{kind}"
            results[name].append(
                run_child({**base, "kind": kind, "database": database, "cache": cache or str(fresh)})
            )
            shutil.rmtree(fresh, ignore_errors=True)
    together = start_together(base, str(empty_db), folder / "together")
    micro_results = {
        what: [micro_child(base, str(warm), what) for _ in range(ROUNDS)]
        for what in ("verify", "bytes", "file", "sealed", "compile")
    }
    report(module, results, together, micro_results)


def micro_child(base: dict[str, Any], cache: str, what: str) -> dict[str, Any]:
    return run_child({**base, "kind": "micro", "cache": cache, "what": what})


def start_together(base: dict[str, Any], database: str, folder: Path) -> list[dict[str, Any]]:
    """`TOGETHER` processes, an empty cache folder: each warms up, then all POST at once."""
    folder.mkdir()
    go = folder / "go"
    processes = [
        run_child(
            {
                **base,
                "kind": "settings",
                "database": database,
                "cache": str(folder / "cache"),
                "ready": str(folder / f"ready-{n}"),
                "go": str(go),
            },
            wait=False,
        )
        for n in range(TOGETHER)
    ]
    deadline = time.monotonic() + 300
    while len(list(folder.glob("ready-*"))) < TOGETHER and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    return [collect(process) for process in processes]


def report(
    module: Path,
    results: dict[str, list[dict[str, Any]]],
    together: list[dict[str, Any]],
    micro_results: dict[str, list[dict[str, Any]]],
) -> None:
    size_mb = module.stat().st_size / 1e6
    artifact_mb = micro_results["file"][0]["artifact_bytes"] / 1e6
    get_baseline = median([sum(r["get_spans"].values()) for r in results["settings, restart"]])
    first = {
        name: median([hook_ms(r, name.startswith("stored"), get_baseline) for r in runs])
        for name, runs in results.items()
    }
    compile_ms = first["settings, compile"]
    rows = [
        Row(
            "django's own first request (no hook)",
            ms(median([r["first_get"] for r in results["settings, restart"]])),
        ),
        Row("settings module, nothing cached (compiles)", ms(first["settings, compile"])),
    ]
    for name, label in (("settings, restart", "settings module"), ("stored, restart", "stored module")):
        rows.append(
            Row(
                f"{label}, after a restart (artifact on disk)",
                ms(first[name]),
                ms(compile_ms) + " compile",
                f"{first[name] / compile_ms:.4f}x",
                f"< {GOAL_MS:g} ms",
                first[name] < GOAL_MS,
            )
        )
    rows.append(Row("stored module, nothing cached (compiles)", ms(first["stored, compile"])))
    warm = median([r["second_post"] - r["warm_get"] for r in results["settings, restart"]])
    rows.append(Row("second request with the hook (warm)", ms(warm)))
    compiled = sum(r["compiles"] for r in together)
    rows.append(
        Row(
            f"{TOGETHER} processes meet a new module at once: compiles",
            str(compiled),
            f"{TOGETHER} (one each)",
            "-",
            "1 per host",
            compiled == 1,
        )
    )
    recompiled = sum(
        r["compiles"] for name in ("settings, restart", "stored, restart") for r in results[name]
    )
    rows.append(Row("compiles in the restarts (must be 0)", str(recompiled), passed=recompiled == 0))
    print_table(
        f"cold start: first request with a hook, {size_mb:.2f} MB module ({artifact_mb:.1f} MB artifact)",
        rows,
        [f"medians of {ROUNDS} rounds, fresh processes; see bench/cold_start.py for what is measured"],
    )
    breakdown("settings module, after a restart", results["settings, restart"], 0.0)
    breakdown("stored module, after a restart", results["stored, restart"], get_baseline)
    micro_rows = [
        Row(
            f"full signature check (read + HMAC-SHA256 of {artifact_mb:.1f} MB)",
            ms(median_of(micro_results["verify"])),
        ),
        Row("Module.deserialize (from memory)", ms(median_of(micro_results["bytes"]))),
        Row("Module.deserialize_file (mapped)", ms(median_of(micro_results["file"]))),
        Row("sealed load (fstat, seal HMAC, deserialize_file)", ms(median_of(micro_results["sealed"]))),
        Row("compile from source", ms(median_of(micro_results["compile"]))),
    ]
    print_table("cold start: loading the artifact in a fresh process", micro_rows)


def breakdown(title: str, runs: list[dict[str, Any]], get_baseline: float) -> None:
    """Median time of each step of the first request with the hook, and its share of it.

    For a stored module (`get_baseline` given) the steps of the first GET count too, less
    what they take with no stored module, which is taken off the fetch of the binaries.
    """
    stored = bool(get_baseline)

    def steps_of(r: dict[str, Any]) -> dict[str, float]:
        steps = dict(r["post_spans"])
        if stored:
            for name, value in r["get_spans"].items():
                steps[name] = steps.get(name, 0.0) + value
            steps["fetch stored binary"] = steps.get("fetch stored binary", 0.0) - get_baseline
        return steps

    per_run = [steps_of(r) for r in runs]
    totals = [hook_ms(r, stored, get_baseline) for r in runs]
    names = sorted({name for steps in per_run for name in steps})
    steps = {name: median([s.get(name, 0.0) for s in per_run]) for name in names}
    rest = median([total - sum(s.values()) for s, total in zip(per_run, totals, strict=True)])
    whole = median(totals)
    rows = [
        Row(name, ms(value), ms(whole), f"{value / whole:.0%}")
        for name, value in sorted(steps.items(), key=lambda item: -item[1])
        if value >= 0.005
    ]
    rows.append(
        Row("the rest (the call, the pipeline, Django's POST)", ms(rest), ms(whole), f"{rest / whole:.0%}")
    )
    print_table(f"cold start: where the first request goes, {title}", rows)


def median_of(runs: list[dict[str, Any]]) -> float:
    return median([r["ms"] for r in runs])


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        options = json.loads(sys.argv[2])
        outcome = micro(options) if options["kind"] == "micro" else child(options)
        print(RESULT + json.dumps(outcome), flush=True)
    else:
        main()
