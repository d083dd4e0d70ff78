"""Reload without restart, across real processes (issue 4).

For each backend ("sqlite+locmem": a SQLite file and each process's local-memory cache;
"postgres+redis": a PostgreSQL database of its own and Redis database 14) the module fixture
migrates a fresh database and starts three servers, three hosts sharing it: gunicorn (WSGI)
with 2 sync workers, gunicorn with 2 gthread workers of 4 threads, and uvicorn (ASGI, so the
middleware runs async: `WasmHooksMiddleware.__acall__`) with 2 workers. Changes are made by
another process, `tests/reload_driver.py`, through `wasmhooks.uploads` and model
`save()`/`delete()`. Then requests go to every server until every one of the six workers (told
apart by the view's `X-Pid` header) shows the change, and the time from the driver's commit to
the last worker showing it must be under 2 seconds. Every request must answer 200, only the
workers started with the servers may answer, none was restarted, and once a worker showed a
change no later request to it may go back.

In-process tests count the queries the middleware makes: none between two looks at the
database, one indexed read when a look is due.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest
import redis
from django.db import connection
from django.db.models import F
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from tests.wat import Guest
from wasmhooks import snapshot
from wasmhooks.models import HookBinding, HooksRevision
from wasmhooks.uploads import store_upload

REPO = Path(__file__).resolve().parent.parent
BOUND = 2.0
"""Seconds within which a change must reach every worker of every server (the issue's figure)."""
REDIS_URL = "redis://127.0.0.1:6379/14"
PROBE = "/probe/?sleep=0.005"
"""Each request holds its worker a little, so concurrent requests spread over the workers."""
LINGER = 0.3
"""Seconds of requests after every worker showed a change, to catch one going back."""
WORKERS = 2
GUNICORN = [
    "gunicorn",
    "django.core.wsgi:get_wsgi_application()",
    "--workers",
    str(WORKERS),
    # Else gunicorn opens a control socket at one fixed path per user.
    "--no-control-socket",
]
SERVERS = {
    "sync": [*GUNICORN, "--worker-class", "sync"],
    "gthread": [*GUNICORN, "--worker-class", "gthread", "--threads", "4"],
    "asgi": [
        "uvicorn",
        "django.core.asgi:get_asgi_application",
        "--factory",
        "--workers",
        str(WORKERS),
        "--log-level",
        "warning",
    ],
}
"""What follows `python -m` to start each server, but for the address to listen on."""

Headers = dict[str, str]


def header_hook(header: str, value: str) -> bytes:
    """A module whose `on_request` sets response header `header` to `value`."""
    g = Guest()
    return g.build(on_request=[g.do("response_set_header", header, value)])


def before_after_hook(number: int) -> bytes:
    """A module that sets `X-Before` in `on_request` and `X-After` in `on_response`, both to `number`."""
    g = Guest()
    return g.build(
        on_request=[g.do("response_set_header", "X-Before", str(number))],
        on_response=[g.do("response_set_header", "X-After", str(number))],
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Sample:
    """One request: its server, when the client sent it and got the answer, and the answer."""

    server: str
    path: str
    started: float
    ended: float
    status: int
    headers: Headers
    error: str = ""

    @property
    def pid(self) -> str | None:
        return self.headers.get("x-pid")


def _get(server: Server, path: str) -> Sample:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Sample(server.name, path, started, time.monotonic(), response.status, headers)
    except (OSError, http.client.HTTPException) as exc:
        return Sample(server.name, path, started, time.monotonic(), 0, {}, repr(exc))
    finally:
        connection.close()


@dataclass
class Server:
    name: str
    program: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    pids: frozenset[str] = frozenset()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Site:
    """Servers sharing one database and cache, and a driver to change their hooks."""

    backend: str
    environment: dict[str, str]
    folder: Path
    servers: list[Server] = field(default_factory=list)

    @property
    def pids(self) -> frozenset[str]:
        return frozenset(pid for server in self.servers for pid in server.pids)

    def drive(self, *arguments: str) -> dict[str, Any]:
        """Run `python -m tests.reload_driver *arguments`; return what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.reload_driver", *arguments],
            cwd=REPO,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"driver {arguments} failed:\n{done.stdout}{done.stderr}"
        result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return result

    def module_file(self, wasm: bytes) -> str:
        path = self.folder / f"{hashlib.sha256(wasm).hexdigest()}.wasm"
        path.write_bytes(wasm)
        return str(path)

    def logs(self) -> str:
        return "\n".join(
            f"--- {server.name} server (port {server.port}) log ---\n{server.log_text()}"
            for server in self.servers
        )


class Traffic:
    """Threads that send requests to every server until the block ends; `samples` has the answers.

    `paths` are shared out among the `threads` of each server; thread i sends `paths[i % len(paths)]`.
    """

    def __init__(self, site: Site, paths: Sequence[str], threads: int = 4) -> None:
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(server, paths[index % len(paths)]), daemon=True)
            for server in site.servers
            for index in range(threads)
        ]

    def _run(self, server: Server, path: str) -> None:
        while not self._stop.is_set():
            self.samples.append(_get(server, path))

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def _worker_processes(server: Server) -> frozenset[str]:
    """The pids of the worker processes `server` runs now: its child processes, less the resource
    tracker that `multiprocessing` starts along with uvicorn's (spawned) workers."""
    parent = str(server.process.pid)
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # it exited meanwhile
        # "pid (name) state ppid ...", where the name may hold spaces and parentheses.
        if stat.rpartition(")")[2].split()[1] == parent and b"resource_tracker" not in command:
            found.add(entry.name)
    return frozenset(found)


def assert_served(site: Site, samples: Sequence[Sample]) -> None:
    """Every request answered 200, by a worker the servers started with; no worker was booted since.

    Each server's worker processes must still be the ones that answered at start. gunicorn also
    logs each boot of a worker ("Booting worker"), a replacement too, so its log must show
    exactly `WORKERS`; uvicorn at `--log-level warning` logs neither a start nor a replacement.
    """
    failed = [sample for sample in samples if sample.status != 200]
    assert not failed, f"{len(failed)} of {len(samples)} requests failed, e.g. {failed[:3]}\n{site.logs()}"
    strangers = {sample.pid for sample in samples} - site.pids
    assert not strangers, f"workers {strangers} answered, not one of {set(site.pids)}\n{site.logs()}"
    for server in site.servers:
        processes = _worker_processes(server)
        assert processes == server.pids, (
            f"{server.name}: worker processes {set(processes)}, not {set(server.pids)}\n{site.logs()}"
        )
        if server.program == "gunicorn":
            boots = server.log_text().count("Booting worker")
            assert boots == WORKERS, (
                f"{server.name}: {boots} workers booted, {WORKERS} expected\n{site.logs()}"
            )


def converge(site: Site, shows: Callable[[Headers], bool], committed: float, what: str) -> float:
    """Send requests to every server until every worker answered one that `shows` the change.

    Returns the seconds from `committed` (the driver's `time.monotonic()` after its commit) to
    the answer of the last worker to show it. Asserts that it is under `BOUND`, and that no
    request sent to a worker after it showed the change failed to show it.
    """
    first: dict[str, Sample] = {}
    with Traffic(site, [PROBE]) as traffic:
        deadline = committed + BOUND + 3.0  # look past the bound, so a failure says how late
        seen = 0
        while time.monotonic() < deadline and not site.pids <= first.keys():
            samples = traffic.samples[seen:]
            seen += len(samples)
            for sample in samples:
                if sample.pid is not None and sample.pid not in first and shows(sample.headers):
                    first[sample.pid] = sample
            time.sleep(0.005)
        time.sleep(LINGER)
    samples = traffic.samples
    assert_served(site, samples)
    missing = site.pids - first.keys()
    assert not missing, f"{what}: workers {missing} never showed it\n{site.logs()}"
    latency = max(sample.ended for sample in first.values()) - committed
    assert latency < BOUND, (
        f"{what}: the last worker showed it {latency:.3f} s after the commit\n{site.logs()}"
    )
    went_back = [
        s for s in samples if s.pid in first and s.started > first[s.pid].ended and not shows(s.headers)
    ]
    assert not went_back, f"{what}: workers went back: {went_back[:3]}\n{site.logs()}"
    return latency


def _postgres(statement: LiteralString, database: str) -> None:
    """Run `statement` with `{}` standing for the quoted name `database`."""
    with psycopg.connect(
        host="127.0.0.1",
        port=5432,
        user=os.environ.get("PGUSER", "postgres"),
        dbname="postgres",
        autocommit=True,
    ) as server:
        server.execute(sql.SQL(statement).format(sql.Identifier(database)))


def _flush_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def _start(name: str, site: Site) -> Server:
    program, *arguments = SERVERS[name]
    port = _free_port()
    if program == "gunicorn":
        address = ["--bind", f"127.0.0.1:{port}"]
    else:
        address = ["--host", "127.0.0.1", "--port", str(port)]
    log = site.folder / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", program, *arguments, *address],
            cwd=REPO,
            env=site.environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Server(name, program, port, process, log)


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def _discover_workers(server: Server, deadline: float = 30.0) -> frozenset[str]:
    """Send concurrent requests until every worker of `server` has answered one; return their pids."""
    pids: set[str] = set()
    start = time.monotonic()
    while len(pids) < WORKERS:
        if server.process.poll() is not None:
            raise AssertionError(f"{server.name} server exited:\n{server.log_text()}")
        if time.monotonic() - start > deadline:
            raise AssertionError(f"{server.name} server: only workers {pids} answered\n{server.log_text()}")
        threads = [threading.Thread(target=lambda: pids.add(_get(server, PROBE).pid or "")) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pids.discard("")
        time.sleep(0.05)
    return frozenset(pids)


@pytest.fixture(scope="module", params=["sqlite+locmem", "postgres+redis"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A migrated fresh database and cache, and three servers using them (see `SERVERS`)."""
    folder = tmp_path_factory.mktemp(request.param.replace("+", "-"))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("WASMHOOKS_RELOAD_")}
    environment.update(
        DJANGO_SETTINGS_MODULE="tests.reload_settings",
        PYTHONPATH=str(REPO),
        WASMHOOKS_RELOAD_CACHE_DIR=str(folder / "compiled"),
    )
    site = Site(request.param, environment, folder)
    with contextlib.ExitStack() as cleanup:
        if request.param == "sqlite+locmem":
            environment["WASMHOOKS_RELOAD_SQLITE"] = str(folder / "db.sqlite3")
        else:
            database = f"wasmhooks_reload_{uuid.uuid4().hex[:12]}"
            _postgres("CREATE DATABASE {}", database)
            cleanup.callback(_postgres, "DROP DATABASE IF EXISTS {} WITH (FORCE)", database)
            environment["WASMHOOKS_RELOAD_POSTGRES"] = database
            _flush_redis()
            cleanup.callback(_flush_redis)
            environment["WASMHOOKS_RELOAD_REDIS"] = REDIS_URL
        migrated = subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput"],
            cwd=REPO,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert migrated.returncode == 0, f"migrate failed:\n{migrated.stdout}{migrated.stderr}"
        for name in SERVERS:
            server = _start(name, site)
            cleanup.callback(_stop, server)
            site.servers.append(server)
        for server in site.servers:
            server.pids = _discover_workers(server)
        yield site


@pytest.fixture
def hooks(site: Site) -> Site:
    """The servers, with every stored module and binding deleted first.

    Each test uses module names and headers of its own, so a worker that has not yet noticed
    the deletion cannot change what a test sees.
    """
    site.drive("reset")
    return site


def test_a_binding_created_elsewhere_runs_on_every_worker_of_every_server_within_2_s(hooks: Site) -> None:
    uploaded = hooks.drive("upload", "created", hooks.module_file(header_hook("X-Created", "yes")))
    assert uploaded["version"] == 1
    # An active module that no binding names changes nothing.
    converge(
        hooks, lambda headers: "x-created" not in headers, uploaded["committed"], "a module without binding"
    )

    bound = hooks.drive("bind", "created", "^/")
    converge(hooks, lambda headers: headers.get("x-created") == "yes", bound["committed"], "a new binding")


def test_a_new_version_and_a_rollback_switch_every_worker_within_2_s(hooks: Site) -> None:
    first = hooks.drive("upload", "versioned", hooks.module_file(header_hook("X-Version", "1")))
    bound = hooks.drive("bind", "versioned", "^/")
    converge(hooks, lambda headers: headers.get("x-version") == "1", bound["committed"], "version 1 bound")

    second = hooks.drive("upload", "versioned", hooks.module_file(header_hook("X-Version", "2")))
    assert (first["version"], second["version"]) == (1, 2)
    converge(
        hooks, lambda headers: headers.get("x-version") == "2", second["committed"], "version 2 uploaded"
    )

    rolled_back = hooks.drive("activate", "versioned", "1")
    assert rolled_back["changed"] is True
    converge(
        hooks, lambda headers: headers.get("x-version") == "1", rolled_back["committed"], "rollback to 1"
    )


def test_disabling_enabling_and_deleting_a_binding_take_effect_within_2_s(hooks: Site) -> None:
    hooks.drive("upload", "toggled", hooks.module_file(header_hook("X-Toggled", "on")))
    bound = hooks.drive("bind", "toggled", "^/")
    binding = str(bound["binding"])
    converge(hooks, lambda headers: headers.get("x-toggled") == "on", bound["committed"], "bound")

    disabled = hooks.drive("disable", binding)
    converge(hooks, lambda headers: "x-toggled" not in headers, disabled["committed"], "disabled")

    enabled = hooks.drive("enable", binding)
    converge(hooks, lambda headers: headers.get("x-toggled") == "on", enabled["committed"], "enabled again")

    deleted = hooks.drive("unbind", binding)
    converge(hooks, lambda headers: "x-toggled" not in headers, deleted["committed"], "binding deleted")


def test_bulk_deleting_a_module_stops_its_bindings_within_2_s(hooks: Site) -> None:
    hooks.drive("upload", "doomed", hooks.module_file(header_hook("X-Doomed", "here")))
    bound = hooks.drive("bind", "doomed", "^/")
    converge(hooks, lambda headers: headers.get("x-doomed") == "here", bound["committed"], "bound")

    deleted = hooks.drive("delete-module", "doomed")
    assert deleted["deleted"] == {
        "wasmhooks.WasmModule": 1,
        "wasmhooks.WasmModuleVersion": 1,
        "wasmhooks.HookBinding": 1,
    }
    converge(hooks, lambda headers: "x-doomed" not in headers, deleted["committed"], "module deleted")


def _sha256(wasm: bytes) -> str:
    return hashlib.sha256(wasm).hexdigest()


def test_requests_in_flight_finish_on_the_version_they_started_with(hooks: Site) -> None:
    """While threads send fast and slow requests to every server, the active version changes
    five times. Every request answers 200 and runs wholly on one version (`X-Before` from
    `on_request` equals `X-After` from `on_response`).

    One slow request per server starts before the first change and waits in the view until its
    worker runs the new version (at most 20 s), then reports the version in force. It must be the
    new one, while the request itself still ends on the old one: a swap under a request in flight.
    The wait ends on the swap rather than after a fixed sleep, so a slow machine cannot end it
    before the worker has noticed the change.
    """
    versions = {1: before_after_hook(1), 2: before_after_hook(2)}
    number_of = {_sha256(wasm): str(number) for number, wasm in versions.items()}
    for number in (1, 2):
        hooks.drive("upload", "flipped", hooks.module_file(versions[number]))
    bound = hooks.drive("bind", "flipped", "^/")
    converge(hooks, lambda headers: headers.get("x-before") == "2", bound["committed"], "version 2 bound")

    straddling: list[Sample] = []
    straddlers = [
        threading.Thread(
            target=lambda s=server: straddling.append(
                _get(s, f"/straddle/?module=flipped&sleep=20&until={_sha256(versions[1])}")
            )
        )
        for server in hooks.servers
    ]
    for thread in straddlers:
        thread.start()
    time.sleep(0.3)  # the straddling requests are in their views (on version 2) before anything changes
    paths = ["/fast/?module=flipped", "/slow/?module=flipped&sleep=0.3"]
    with Traffic(hooks, paths) as traffic:
        rolled_back = hooks.drive("activate", "flipped", "1")
        for thread in straddlers:
            thread.join()
        flips = hooks.drive("flip", "flipped", "2", "1", "4", "0.4")
    last_commit = flips["commits"][-1][0]
    samples = [*traffic.samples, *straddling]

    assert_served(hooks, samples)
    torn = [
        s for s in samples if "x-before" not in s.headers or s.headers["x-before"] != s.headers.get("x-after")
    ]
    assert not torn, f"{len(torn)} of {len(samples)} requests ran on two versions or none: {torn[:3]}"
    assert {s.headers["x-before"] for s in traffic.samples} == {"1", "2"}
    assert {s.server for s in traffic.samples} == set(SERVERS)

    assert {s.server for s in straddling} == set(SERVERS)
    for sample in straddling:
        assert sample.started < rolled_back["committed"] - 0.2, "the straddling request started too late"
        assert sample.ended > rolled_back["committed"], "the straddling request ended before the change"
        assert (sample.headers["x-before"], sample.headers["x-after"]) == ("2", "2"), sample
        assert number_of[sample.headers["x-module-sha256"]] == "1", sample

    converge(hooks, lambda headers: headers.get("x-before") == "1", last_commit, "the last of five changes")


class FrozenClock:
    """Stands in for the `time` module in `wasmhooks.snapshot`: `monotonic()` moves only when told."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(snapshot, "time", frozen)
    return frozen


def _revision_read(statement: str) -> bool:
    return HooksRevision._meta.db_table in statement and HookBinding._meta.db_table not in statement


@pytest.mark.parametrize("interval", [None, 3600.0], ids=["default-interval", "interval-3600"])
def test_requests_between_looks_make_no_query_and_a_due_look_makes_one(
    client: Client, clock: FrozenClock, interval: float | None
) -> None:
    reload_settings: dict[str, Any] = {
        "ROOT_URLCONF": "tests.reload_urls",
        "MIDDLEWARE": ["wasmhooks.middleware.WasmHooksMiddleware"],
    }
    if interval is not None:
        reload_settings["WASMHOOKS_RELOAD_INTERVAL"] = interval
    step = 1.0 if interval is None else interval
    start = clock.now
    with override_settings(**reload_settings):
        result = store_upload("counted", header_hook("X-Counted", "yes"))
        binding = HookBinding.objects.create(module=result.module, pattern="^/")
        assert client.get("/first/")["X-Counted"] == "yes"  # this process made the change: it looked

        with CaptureQueriesContext(connection) as queries:
            for index in range(100):
                assert client.get(f"/between/{index}/")["X-Counted"] == "yes"
        assert len(queries) == 0, queries.captured_queries

        # Another process disables the binding: this one learns of it only at its next look.
        HookBinding.objects.filter(pk=binding.pk).update(enabled=False)
        HooksRevision.objects.filter(pk=snapshot.REVISION_PK).update(number=F("number") + 1)
        clock.now = start + step - 0.001
        with CaptureQueriesContext(connection) as queries:
            for index in range(100):
                assert client.get(f"/not-yet/{index}/")["X-Counted"] == "yes"
        assert len(queries) == 0, queries.captured_queries

        due = clock.now = start + step  # the same sum as the look's, so no rounding apart
        with CaptureQueriesContext(connection) as queries:
            assert "X-Counted" not in client.get("/due/")
        assert _revision_read(queries.captured_queries[0]["sql"]), queries.captured_queries
        assert len(queries) > 1, "the revision moved, so the look reloads the bindings"

        clock.now = due + step
        with CaptureQueriesContext(connection) as queries:
            for index in range(100):
                assert "X-Counted" not in client.get(f"/unchanged/{index}/")
        assert len(queries) == 1, queries.captured_queries
        assert _revision_read(queries.captured_queries[0]["sql"]), queries.captured_queries
