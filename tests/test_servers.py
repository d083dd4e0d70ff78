"""The demo site under real servers: gunicorn sync and gthread workers (also with --preload,
so the app and its Engine are created before the fork) and uvicorn (ASGI).

Each server is started on a free loopback port, sent a bounded number of requests, and
stopped. A hook that loops forever must answer 503 within its timeout while the same
workers keep serving.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.guests import guest

REPO = Path(__file__).resolve().parent.parent
SPIN = guest('(func (export "on_request") (result i32) (loop $l (br $l)) (i32.const 0))')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path, deadline: float = 30.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{log.read_text()}")
        try:
            _get(port, "/")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not come up")


SERVERS = {
    "gunicorn-sync": ["-m", "gunicorn", "demo_project.wsgi", "--workers", "2"],
    "gunicorn-gthread": [
        "-m",
        "gunicorn",
        "demo_project.wsgi",
        "--workers",
        "2",
        "--threads",
        "4",
        "--worker-class",
        "gthread",
    ],
    "gunicorn-preload": ["-m", "gunicorn", "demo_project.wsgi", "--workers", "2", "--preload"],
    "uvicorn-asgi": [
        "-m",
        "uvicorn",
        "demo_project.asgi:application",
        "--workers",
        "1",
        "--log-level",
        "warning",
    ],
}


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with wasmhooks' tables, copied for each server."""
    folder = tmp_path_factory.mktemp("server-db")
    database = folder / "template.sqlite3"
    (folder / "spin.wasm").write_bytes(SPIN)
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "WASMHOOKS_TEST_SPIN_MODULE": str(folder / "spin.wasm"),
        "WASMHOOKS_TEST_CACHE_DIR": str(folder / "cache"),
        "WASMHOOKS_TEST_DATABASE": str(database),
        "PYTHONPATH": str(REPO),
    }
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"], cwd=REPO, env=environment, check=True
    )
    return database


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, tmp_path: Path, migrated_database: Path) -> Iterator[int]:
    built = REPO / "guest-examples" / "wat" / "build" / "add-header.wasm"
    assert built.is_file(), "run `make guests` first"
    spin_path = tmp_path / "spin.wasm"
    spin_path.write_bytes(SPIN)
    port = _free_port()
    arguments = SERVERS[request.param]
    bind = (
        # Without --no-control-socket gunicorn opens one at a fixed path per user.
        ["--bind", f"127.0.0.1:{port}", "--no-control-socket"]
        if "gunicorn" in arguments
        else ["--host", "127.0.0.1", "--port", str(port)]
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        "WASMHOOKS_TEST_SPIN_MODULE": str(spin_path),
        "WASMHOOKS_TEST_CACHE_DIR": str(tmp_path / "cache"),
        "WASMHOOKS_TEST_DATABASE": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": str(REPO),
    }
    shutil.copyfile(migrated_database, tmp_path / "db.sqlite3")
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, *arguments, *bind],
            cwd=REPO,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(port, process, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_hooks_run_under_concurrent_load(server: int) -> None:
    def one(index: int) -> tuple[int, str | None, int]:
        if index % 2:
            status, headers, _ = _get(server, "/api/hello/", {"X-Api-Key": "demo-key"})
        else:
            status, headers, _ = _get(server, "/api/hello/")
        return index, headers.get("x-powered-by-hook"), status

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(80)))
    for index, header, status in results:
        if index % 2:
            assert (status, header) == (200, "wasmhooks")
        else:
            assert status == 403


def test_a_looping_hook_is_stopped_and_the_workers_keep_serving(server: int) -> None:
    for _ in range(3):
        started = time.monotonic()
        status, _, body = _get(server, "/spin/")
        assert status == 503, body
        assert time.monotonic() - started < 5
    status, headers, body = _get(server, "/greet/?name=after")
    assert (status, body) == (200, b"hello, after")
    assert headers["x-powered-by-hook"] == "wasmhooks"


def test_the_servers_log_no_errors(server: int, tmp_path: Path) -> None:
    assert _get(server, "/api/hello/", {"X-Api-Key": "demo-key"})[0] == 200
    log = (tmp_path / "server.log").read_text()
    assert "cannot read hooks from the database" not in log
    assert "Traceback" not in log
