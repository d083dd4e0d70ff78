from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from wasmhooks.signals import hook_failed
from wasmhooks.testutils import reset_state


@pytest.fixture(autouse=True)
def _database(db: None) -> None:
    """Every request looks at the stored hooks, so every test may use the database."""


@pytest.fixture(autouse=True)
def _fresh_wasmhooks_state(_database: None) -> Iterator[None]:
    reset_state()
    yield
    reset_state()


@pytest.fixture
def failures() -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of every `hook_failed` signal sent during the test."""
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        received.append(kwargs)

    hook_failed.connect(receiver)
    yield received
    hook_failed.disconnect(receiver)
