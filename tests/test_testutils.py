"""`wasmhooks.testutils`: what users' own tests of hooks rely on."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from tests.wat import hook
from wasmhooks import metrics, registry, snapshot
from wasmhooks.conf import conf
from wasmhooks.testutils import override_hooks, reset_state, wasm_from_wat

GOOD = hook(on_request=[])


def test_override_hooks_writes_bytes_to_a_temporary_file_for_the_block():
    with override_hooks(
        {"good": GOOD}, [{"module": "good", "pattern": "^/"}], WASMHOOKS_TIMEOUT_MS=7
    ) as paths:
        path = Path(paths["good"])
        assert path.read_bytes() == GOOD
        assert conf.MODULES == paths == {"good": str(path)}
        assert conf.TIMEOUT_MS == 7
        assert [b.module for b in snapshot.current().routes.bindings] == ["good"]
    assert not path.exists()
    assert (conf.MODULES, hasattr(settings, "WASMHOOKS_TIMEOUT_MS")) == ({}, False)


def test_override_hooks_takes_paths_as_they_are(tmp_path):
    file = tmp_path / "good.wasm"
    file.write_bytes(GOOD)
    with override_hooks({"by-path": file, "by-str": str(file)}) as paths:
        assert paths == {"by-path": str(file), "by-str": str(file)}
        assert registry.get_module("by-path").compiled.sha256 == registry.get_module("by-str").compiled.sha256
    assert file.exists()


def test_reset_state_forgets_modules_routes_counts_and_instances():
    with override_hooks({"good": GOOD}, [{"module": "good", "pattern": "^/"}]):
        loaded = registry.get_module("good")
        table = snapshot.current().routes
        registry.get_host().call(
            loaded.compiled, "on_request", limits=snapshot.current().routes.bindings[0].limits
        )
        metrics.record_failure("good", "trap")
        assert registry.get_host().instance_count() == 1
        reset_state()
        assert registry.get_host().instance_count() == 0
        assert metrics.failure_counts() == {}
        assert registry.get_module("good") is not loaded
        assert snapshot.current().routes is not table


def test_wasm_from_wat():
    assert wasm_from_wat("(module)")[:4] == b"\0asm"


def test_reset_state_forgets_settings_changed_without_djangos_signal():
    from unittest import mock

    from django.conf import settings

    from wasmhooks.conf import conf
    from wasmhooks.testutils import reset_state

    with mock.patch.object(settings, "WASMHOOKS_TIMEOUT_MS", 5, create=True):
        reset_state()
        assert conf.TIMEOUT_MS == 5
    reset_state()
    assert conf.TIMEOUT_MS == 50
