"""Smoke tests of the benchmark scripts under `bench/`, so that they do not rot.

Each script runs in quick mode (`BENCH_QUICK=1`: tiny counts) as a subprocess and must exit 0
and print its table. No figure is checked: speed and memory goals are printed by the
benchmarks, never asserted by a test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEADINGS = ("figure", "value", "baseline", "ratio", "goal", "result")


def run_quick(script: str) -> str:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BENCH_")}
    environment.pop("DJANGO_SETTINGS_MODULE", None)  # pytest-django's; the scripts use their own
    environment["BENCH_QUICK"] = "1"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def assert_table(output: str, title: str, figures: tuple[str, ...]) -> None:
    assert f"== {title}" in output, output
    header = next((line for line in output.splitlines() if line.startswith("figure")), "")
    assert header.split() == list(HEADINGS), output
    for figure in figures:
        assert figure in output, output


def test_overhead() -> None:
    output = run_quick("overhead.py")
    assert_table(
        output,
        "overhead:",
        ("no hook", "python middleware", "wasm, warm instance", "wasm, fresh instance", "stored binding"),
    )


def test_call_vs_extism() -> None:
    output = run_quick("call_vs_extism.py")
    # Extism is the `bench` extra: without it the row says "not installed".
    assert_table(output, "call:", ("python echo", "wasmhooks.call echo", "extism echo"))


def test_memory() -> None:
    output = run_quick("memory.py")
    assert_table(output, "memory:", ("wasm, warm instance", "wasm, fresh instance", "wasmhooks.call echo"))


def test_gunicorn_wrk() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian package wrk; .ci/run and make bench install it)")
    output = run_quick("gunicorn_wrk.py")
    assert_table(output, "gunicorn + wrk:", ("no hook", "python middleware", "wasm, warm instance"))
