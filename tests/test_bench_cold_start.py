"""Smoke test of `bench/cold_start.py`, so that it does not rot.

It runs in quick mode (`BENCH_QUICK=1`: one round, a small module) as a subprocess and must
exit 0 and print its tables. No figure is checked: the goals are printed by the benchmark,
never asserted by a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADINGS = ["figure", "value", "baseline", "ratio", "goal", "result"]


def test_cold_start_runs_and_prints_its_tables(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BENCH_")}
    environment.pop("DJANGO_SETTINGS_MODULE", None)  # pytest-django's; the script uses its own
    environment["BENCH_QUICK"] = "1"
    environment["XDG_CACHE_HOME"] = str(tmp_path / "user-cache")  # it must not be used
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "cold_start.py")],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    output = done.stdout
    for title in ("cold start: first request with a hook", "cold start: where the first request goes"):
        assert f"== {title}" in output, output
    headers = [line.split() for line in output.splitlines() if line.startswith("figure")]
    assert headers and all(header == HEADINGS for header in headers), output
    for figure in ("after a restart (artifact on disk)", "a new module at once", "sealed load"):
        assert figure in output, output
    assert not (tmp_path / "user-cache").exists()
