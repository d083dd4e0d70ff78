from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from wasmhooks.signals import hook_failed
from wasmhooks.testutils import reset_state


@pytest.fixture(scope="session", autouse=True)
def _close_async_connections(django_db_setup: None) -> Iterator[None]:
    """Close what async tests opened in asgiref's sync thread, before the test database is dropped."""
    yield
    asyncio.run(sync_to_async(connections.close_all)())


@pytest.fixture(autouse=True)
def _database(db: None) -> None:
    """Every request looks at the stored hooks, so every test may use the database."""


@pytest.fixture(autouse=True)
def _fresh_wasmhooks_state(_database: None) -> Iterator[None]:
    reset_state()
    yield
    reset_state()


@pytest.fixture(autouse=True)
def _quiet_compiles() -> Iterator[None]:
    """Keep the runtime's debug lines ("compiled module ...") out of tests that capture guests'
    logs at DEBUG; tests about the runtime's own lines set its level themselves."""
    runtime_logger = logging.getLogger("wasmhooks.runtime")
    level = runtime_logger.level
    runtime_logger.setLevel(logging.INFO)
    yield
    runtime_logger.setLevel(level)


@pytest.fixture
def failures() -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of every `hook_failed` signal sent during the test."""
    received: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        received.append(kwargs)

    hook_failed.connect(receiver)
    yield received
    hook_failed.disconnect(receiver)
