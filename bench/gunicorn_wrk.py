"""Requests per second through a real server: gunicorn (2 sync workers) driven by `wrk`.

One gunicorn per variant serves `bench.wsgi` on a free loopback port: no hook, the Python
middleware, the typical hook with a warm instance, and with a fresh instance per request
(`bench/server_settings.py`). Each server is checked (the hook answers where bound, and only
there) and warmed up with `wrk`; then the variants alternate over rounds of one bounded `wrk`
run each, and the median requests per second of each is printed with the median of its
per-round ratios to no hook, and every round's figure (to show the noise).
Goal: the typical hook keeps at least 95% of the no-hook figure. Only 127.0.0.1 is loaded,
every run is bounded in time, and the servers are stopped at the end.

Needs `wrk` (Debian package `wrk`; `make bench` installs it). Run: `make bench`, or
`.venv/bin/python bench/gunicorn_wrk.py`. `BENCH_WRK_DURATION` (seconds per run),
`BENCH_WRK_ROUNDS`, `BENCH_WRK_CONNECTIONS`, `BENCH_WRK_THREADS` and `BENCH_WRK_WARMUP`
(seconds) change the load; `BENCH_QUICK=1` runs tiny ones.
"""

from __future__ import annotations

import functools
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _common
from bench._common import REPO, Row, alternate, count, median, print_table, times

_common.setup_django()  # for the typical hook's WAT, compiled here

DURATION = count("BENCH_WRK_DURATION", 4, 1)
ROUNDS = count("BENCH_WRK_ROUNDS", 5, 1)
CONNECTIONS = count("BENCH_WRK_CONNECTIONS", 2, 2)
THREADS = count("BENCH_WRK_THREADS", 1, 1)
WARMUP = count("BENCH_WRK_WARMUP", 2, 1)
WORKERS = 2
GOAL = 0.95
PATH = "/bench/"
HEADER = ("X-Api-Key", "k")

VARIANTS = {
    "no hook": "none",
    "python middleware": "python",
    "wasm, warm instance": "wasm",
    "wasm, fresh instance": "wasm-fresh",
}
HOOKED = {"python", "wasm", "wasm-fresh"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(port: int) -> tuple[int, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", PATH, headers=dict([HEADER]))
        response = connection.getresponse()
        response.read()
        return response.status, {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()


def server_environment(folder: Path, variant: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.server_settings",
        "BENCH_SERVER_VARIANT": variant,
        "BENCH_DATABASE": str(folder / "db.sqlite3"),
        "BENCH_CACHE_DIR": str(folder / "cache"),
        "BENCH_HOOK_MODULE": str(folder / "hook.wasm"),
        "PYTHONPATH": str(REPO),
    }


@contextmanager
def server(folder: Path, variant: str) -> Iterator[int]:
    """A gunicorn serving `variant` on a free port, checked, stopped on the way out. Yields the port."""
    port = free_port()
    log = folder / f"gunicorn-{variant}.log"
    command = [
        *(sys.executable, "-m", "gunicorn", "bench.wsgi"),
        *("--workers", str(WORKERS), "--worker-class", "sync", "--log-level", "warning"),
        # Without --no-control-socket gunicorn opens one at a fixed path per user.
        *("--bind", f"127.0.0.1:{port}", "--no-control-socket"),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=server_environment(folder, variant),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers can be killed with it
        )
    try:
        wait_until_up(port, process, log)
        try:
            check(port, variant)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()}") from None
        yield port
    finally:
        process.terminate()  # gunicorn's graceful stop: the arbiter stops its workers
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path, deadline: float = 60.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{log.read_text()}")
        try:
            get(port)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not come up within {deadline:.0f} s:\n{log.read_text()}")


def check(port: int, variant: str) -> None:
    """The hook answers where bound, and only there (a few requests, to reach both workers)."""
    for _ in range(2 * WORKERS):
        status, headers = get(port)
        if status != 200 or ("x-hook" in headers) != (variant in HOOKED):
            raise RuntimeError(f"variant {variant}: status {status}, headers {headers}")


def wrk(port: int, seconds: int) -> tuple[float, str]:
    """Requests per second of one bounded wrk run, and its error counts ("" if none)."""
    command = [
        *("wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s"),
        *("-H", f"{HEADER[0]}: {HEADER[1]}", f"http://127.0.0.1:{port}{PATH}"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    found = re.search(r"^Requests/sec:\s*([\d.]+)", done.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{done.stdout}{done.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if bad:
        raise RuntimeError(f"{bad.group(1)} failed responses: the figure would not be the hook's")
    errors = re.search(r"Socket errors: (.*)", done.stdout)
    return float(found.group(1)), errors.group(1) if errors else ""


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("gunicorn_wrk: wrk is not installed (apt-get install wrk; make bench does)")
    folder = _common.scratch_folder()
    (folder / "hook.wasm").write_bytes(_common.typical_hook())
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=server_environment(folder, "none"),
        check=True,
    )
    errors: list[str] = []
    with ExitStack() as stack:
        ports = {name: stack.enter_context(server(folder, variant)) for name, variant in VARIANTS.items()}
        for port in ports.values():
            wrk(port, WARMUP)

        def sampler(name: str) -> float:
            rate, socket_errors = wrk(ports[name], DURATION)
            if socket_errors:
                errors.append(f"{name}: socket errors {socket_errors}")
            return rate

        samples = alternate({name: functools.partial(sampler, name) for name in ports}, ROUNDS)
    figures = {name: median(values) for name, values in samples.items()}
    base = figures["no hook"]
    rows = [Row("no hook", f"{base:,.0f} req/s")]
    for name, figure in figures.items():
        if name == "no hook":
            continue
        # Per-round ratios: the two runs of a round are close in time, so slow drift cancels.
        ratio = median([value / b for value, b in zip(samples[name], samples["no hook"], strict=True)])
        goal = (f"≥ {GOAL:.0%} of no hook", ratio >= GOAL) if name == "wasm, warm instance" else ("-", None)
        rows.append(Row(name, f"{figure:,.0f} req/s", f"no hook {base:,.0f}", times(ratio), *goal))
    notes = [
        f"gunicorn, {WORKERS} sync workers; wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s on 127.0.0.1;"
        f" {ROUNDS} rounds, alternated; medians (ratios: of per-round ratios). Each round, req/s:",
        *(f"  {name}: {', '.join(f'{value:,.0f}' for value in values)}" for name, values in samples.items()),
        *errors,
    ]
    print_table("gunicorn + wrk: requests per second", rows, notes)


if __name__ == "__main__":
    main()
