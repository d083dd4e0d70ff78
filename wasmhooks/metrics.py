"""Counters of hook failures in this process, by module and kind."""

from __future__ import annotations

from collections import Counter

from wasmhooks.runtime.engine import ForkSafeLock

_failures: Counter[tuple[str, str]] = Counter()
_lock = ForkSafeLock()


def record_failure(module: str, kind: str) -> None:
    with _lock:
        _failures[(module, kind)] += 1


def failure_counts() -> dict[tuple[str, str], int]:
    """{(module, kind): count} since start-up (or the last `reset`)."""
    with _lock:
        return dict(_failures)


def reset() -> None:
    with _lock:
        _failures.clear()
