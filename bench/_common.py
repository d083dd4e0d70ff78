"""What the benchmark scripts share: counts and quick mode, Django set-up, the guests, sampling
alternated over rounds, and the table every script prints.

Figures are printed, never asserted. A goal row says PASS or MISS against the figure measured
in this run; with `BENCH_QUICK=1` every script runs tiny counts in a few seconds (to check it
still works) and its figures mean nothing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.core.handlers.wsgi import WSGIHandler

REPO = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")

COLUMNS = ("figure", "value", "baseline", "ratio", "goal", "result")


def count(variable: str, full: int, quick: int) -> int:
    """The environment variable `variable` if set, else `quick` in quick mode, else `full`."""
    given = os.environ.get(variable)
    if given:
        return int(given)
    return quick if QUICK else full


def setup_django(settings: str = "bench.settings") -> None:
    """Make the repository importable and set Django up with the benchmark settings."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    # Forced, not defaulted: a caller's DJANGO_SETTINGS_MODULE (pytest's) must not leak in.
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    import django

    django.setup()


@contextmanager
def configured(**values: Any) -> Iterator[None]:
    """Settings changed for the block, on the settings object itself, with Django's
    `setting_changed` sent as `override_settings` sends it, and wasmhooks' cached state
    dropped on the way in and out.

    Not `override_settings` itself: it puts a holder in front of the settings, and reading a
    setting the project does not define through it costs more than in production (5 µs per
    `wasmhooks.call` when this was written, with wasmhooks reading its settings on every call).
    """
    from django.conf import Settings, settings
    from django.core.signals import setting_changed

    from wasmhooks.testutils import reset_state

    missing = object()
    saved = {name: getattr(settings, name, missing) for name in values}

    def changed(name: str, value: Any, enter: bool) -> None:
        setting_changed.send(sender=Settings, setting=name, value=value, enter=enter)

    for name, value in values.items():
        setattr(settings, name, value)
        changed(name, value, True)
    reset_state()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                delattr(settings, name)
                changed(name, None, False)
            else:
                setattr(settings, name, value)
                changed(name, value, False)
        reset_state()


def scratch_folder() -> Path:
    """A temporary folder removed when the process exits."""
    folder = tempfile.mkdtemp(prefix="wasmhooks-bench-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return Path(folder)


def typical_hook() -> bytes:
    """The typical hook: reads the path and one request header, sets one response header."""
    from tests.guests import guest

    return guest(
        """
(func (export "on_request") (result i32)
  (drop (call $request_path (i32.const 256) (i32.const 256)))
  (drop (call $request_header (i32.const 0) (i32.const 9) (i32.const 512) (i32.const 256)))
  (drop (call $response_set_header (i32.const 16) (i32.const 6) (i32.const 32) (i32.const 2)))
  (i32.const 0))
""",
        data={0: "x-api-key", 16: "X-Hook", 32: "ok"},
    )


def _discard(data: bytes) -> None:
    pass


def ignore_response(
    status: str, headers: list[tuple[str, str]], exc_info: object = None, /
) -> Callable[[bytes], object]:
    """A WSGI `start_response` that keeps nothing, for timed loops."""
    return _discard


def serve_once(handler: WSGIHandler, environ: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The status and headers of one request through `handler`, closed as a server would."""
    seen: dict[str, Any] = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None, /
    ) -> Callable[[bytes], object]:
        seen.update(status=status, headers=dict(headers))
        return _discard

    handler(dict(environ), start_response).close()
    return seen["status"], seen["headers"]


def alternate(samplers: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Take one sample of every variant per round, starting each round one variant later
    (ABC, BCA, CAB...), so that drift on a noisy machine spreads over all of them.

    Returns the samples of each variant, in round order.
    """
    names = list(samplers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(samplers[name]())
    return samples


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Row:
    """One line of a table: a figure, what it is compared with, and the goal it is checked against."""

    figure: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    goal: str = "-"
    passed: bool | None = None

    def cells(self) -> tuple[str, ...]:
        result = "-" if self.passed is None else ("PASS" if self.passed else "MISS")
        return (self.figure, self.value, self.baseline, self.ratio, self.goal, result)


def times(value: float) -> str:
    return f"{value:.2f}x"


def print_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> None:
    """Print `title`, then the rows under the COLUMNS headings, then any notes."""
    lines = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(COLUMNS))]
    print(f"\n== {title}" + (" (quick mode: the figures mean nothing)" if QUICK else ""))
    left = {0, 4}  # the figure and the goal read better left-aligned
    for number, line in enumerate(lines):
        cells = [
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))
    for note in notes:
        print(note)
    # Other work on the 2 cores skews every figure; say how busy the machine was.
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    sys.stdout.flush()
