from __future__ import annotations

from collections.abc import Iterator

import pytest

from wasmhooks.testutils import reset_state


@pytest.fixture(autouse=True)
def _fresh_wasmhooks_state() -> Iterator[None]:
    reset_state()
    yield
    reset_state()
