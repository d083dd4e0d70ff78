"""Helpers for your own tests of hooks.

    from wasmhooks.testutils import override_hooks, wasm_from_wat

    def test_header(client):
        with override_hooks({"headers": "hooks/headers.wasm"},
                            [{"module": "headers", "pattern": r"^/"}]):
            assert client.get("/")["X-Frame-Options"] == "DENY"

`override_hooks` accepts module bytes as well as paths; bytes are written to a temporary
folder for the duration of the block.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.test import override_settings

from wasmhooks import metrics, registry, snapshot
from wasmhooks.conf import conf


def wasm_from_wat(source: str) -> bytes:
    """Compile WebAssembly text to a binary module. Raises `wasmtime.WasmtimeError`."""
    import wasmtime

    return bytes(wasmtime.wat2wasm(source))


@contextmanager
def override_hooks(
    modules: Mapping[str, bytes | str | os.PathLike[str]],
    bindings: Sequence[Mapping[str, Any]] = (),
    **settings: Any,
) -> Iterator[dict[str, str]]:
    """Run a block with these modules and bindings (and any other settings) in force.

    Yields the module paths used. Warm instances of this thread are dropped on the way in and
    out, so a test never sees another test's guest state.
    """
    with tempfile.TemporaryDirectory(prefix="wasmhooks-test-") as folder:
        paths: dict[str, str] = {}
        for name, module in modules.items():
            if isinstance(module, bytes):
                path = Path(folder) / f"{name}.wasm"
                path.write_bytes(module)
                paths[name] = str(path)
            else:
                paths[name] = str(module)
        with override_settings(WASMHOOKS_MODULES=paths, WASMHOOKS_BINDINGS=list(bindings), **settings):
            reset_state()
            try:
                yield paths
            finally:
                reset_state()


def reset_state() -> None:
    """Forget the settings read, loaded modules, the hooks snapshot, failure counts and this
    thread's instances (for settings changed without Django's `setting_changed`, too)."""
    conf.forget()
    registry.get_host().clear_thread_pool()
    registry.reset()
    snapshot.reset()
    metrics.reset()
