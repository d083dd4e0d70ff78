from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from wasmhooks.runtime import FunctionSignature, ModuleCache, ModuleInvalid, engine

KEY = b"secret key"
SOURCE = """
(module
  (import "wasmhooks" "log" (func (param i32 i32 i32)))
  (import "env" "mem" (memory $mem 2))
  (import "env" "table" (table 1 funcref))
  (import "env" "flag" (global i32))
  (export "memory" (memory $mem))
  (global (export "version") i32 (i32.const 1))
  (func (export "answer") (result i32) i32.const 42)
  (func (export "add") (param i32 i64) (result i64) local.get 1)
)
"""


def wasm(source: str = SOURCE) -> bytes:
    return bytes(wasmtime.wat2wasm(source))


@pytest.fixture
def deserialized(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts `Module.deserialize` calls (each still runs for real)."""
    calls: list[int] = []
    real = wasmtime.Module.deserialize.__func__  # type: ignore[attr-defined]

    def counting(cls: type[wasmtime.Module], engine: wasmtime.Engine, encoded: bytes) -> wasmtime.Module:
        calls.append(len(encoded))
        module: wasmtime.Module = real(cls, engine, encoded)
        return module

    monkeypatch.setattr(wasmtime.Module, "deserialize", classmethod(counting))
    return calls


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts compilations from source (each still runs for real)."""
    calls: list[int] = []
    real = wasmtime.Module.__init__

    def counting(self: wasmtime.Module, engine: wasmtime.Engine, wasm: bytes) -> None:
        calls.append(len(wasm))
        real(self, engine, wasm)

    monkeypatch.setattr(wasmtime.Module, "__init__", counting)
    return calls


def artifact_path(cache_dir: Path, module: bytes = b"") -> Path:
    sha256 = hashlib.sha256(module or wasm()).hexdigest()
    return cache_dir / f"{sha256}-{engine.fingerprint()}.cwasm"


def test_describes_exports_imports_and_memory() -> None:
    compiled = ModuleCache(None, KEY).load(wasm())
    assert compiled.sha256 == hashlib.sha256(wasm()).hexdigest()
    assert compiled.size == len(wasm())
    assert compiled.functions == {
        "answer": FunctionSignature((), ("i32",)),
        "add": FunctionSignature(("i32", "i64"), ("i64",)),
    }
    assert compiled.memories == {"memory": 2 * 65536}
    assert compiled.imports == (
        ("wasmhooks", "log", "func"),
        ("env", "mem", "memory"),
        ("env", "table", "table"),
        ("env", "flag", "global"),
    )
    assert compiled.import_modules == {"wasmhooks", "env"}


def test_same_bytes_compile_once_in_memory(compiles: list[int]) -> None:
    cache = ModuleCache(None, KEY)
    first = cache.load(wasm())
    assert cache.load(wasm()) is first
    assert cache.cached(first.sha256) is first
    assert len(compiles) == 1


def test_nothing_cached_for_unknown_bytes() -> None:
    assert ModuleCache(None, KEY).cached(hashlib.sha256(b"x").hexdigest()) is None


def test_concurrent_loads_compile_once(compiles: list[int]) -> None:
    cache = ModuleCache(None, KEY)
    results = []
    with cache._lock:  # every thread misses the fast path and queues on the lock
        threads = [threading.Thread(target=lambda: results.append(cache.load(wasm()))) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len(compiles) == 1
    assert len({id(result) for result in results}) == 1


def test_artifact_file_is_named_by_sha256_and_engine_fingerprint(tmp_path: Path) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    assert [path.name for path in tmp_path.iterdir()] == [artifact_path(tmp_path).name]


def test_restarted_process_loads_from_disk_without_compiling(
    tmp_path: Path, compiles: list[int], deserialized: list[int]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(compiles), len(deserialized)) == (1, 0)
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(compiles), len(deserialized)) == (1, 1)
    assert "answer" in compiled.functions


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:20])


def replace_with_foreign_file(path: Path) -> None:
    path.write_bytes(b"\x00" * 32 + bytes(wasmtime.Module(engine.get_engine(), wasm()).serialize()))


def sign_with_another_key(path: Path) -> None:
    path.unlink()
    ModuleCache(path.parent, b"another key").load(wasm())


@pytest.mark.parametrize(
    "spoil", [flip_last_byte, truncate, replace_with_foreign_file, sign_with_another_key]
)
def test_unsigned_or_tampered_artifact_is_never_deserialized_and_is_replaced(
    tmp_path: Path,
    spoil: Callable[[Path], None],
    compiles: list[int],
    deserialized: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = artifact_path(tmp_path)
    ModuleCache(tmp_path, KEY).load(wasm())
    spoil(path)
    spoiled = path.read_bytes()
    compiles.clear()

    compiled = ModuleCache(tmp_path, KEY).load(wasm())

    assert deserialized == [] and len(compiles) == 1
    assert "answer" in compiled.functions
    assert "ignoring unsigned or tampered compiled module" in caplog.text
    assert path.read_bytes() != spoiled
    ModuleCache(tmp_path, KEY).load(wasm())
    assert len(deserialized) == 1 and len(compiles) == 1


def test_signed_artifact_wasmtime_rejects_is_recompiled(
    tmp_path: Path, compiles: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    cache = ModuleCache(tmp_path, KEY)
    sha256 = hashlib.sha256(wasm()).hexdigest()
    garbage = b"not a serialized module"
    artifact_path(tmp_path).write_bytes(cache._signature(sha256, garbage) + garbage)

    assert "answer" in cache.load(wasm()).functions
    assert len(compiles) == 1
    assert "cannot load compiled module" in caplog.text


def test_unwritable_cache_dir_still_compiles(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="wasmhooks.runtime"):
        compiled = ModuleCache(blocker / "cache", KEY).load(wasm())
    assert "answer" in compiled.functions
    assert "cannot write compiled module cache" in caplog.text


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    artifact_path(tmp_path).mkdir()  # cannot be read, nor replaced by a file
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    assert "answer" in compiled.functions
    assert "cannot write compiled module cache" in caplog.text
    assert [path.name for path in tmp_path.iterdir()] == [artifact_path(tmp_path).name]


def test_bytes_that_are_not_wasm_are_invalid() -> None:
    with pytest.raises(ModuleInvalid, match=r"not a WebAssembly binary") as caught:
        ModuleCache(None, KEY).load(b'(module (func (export "f")))')
    assert caught.value.kind == "invalid"


def test_wasm_that_does_not_compile_is_invalid_with_a_one_line_reason(tmp_path: Path) -> None:
    broken = wasm()[:-3]
    with pytest.raises(ModuleInvalid, match=r"^does not compile: \S") as caught:
        ModuleCache(tmp_path, KEY).load(broken)
    assert "\n" not in str(caught.value)
    assert "unexpected end-of-file" in str(caught.value)  # the cause, not just the summary
    assert list(tmp_path.iterdir()) == []


def test_a_type_error_names_the_reason() -> None:
    mistyped = wasmtime.wat2wasm('(module (func (export "f") (result i32) (i64.const 1)))')
    with pytest.raises(ModuleInvalid, match=r"type mismatch"):
        ModuleCache(None, KEY).load(mistyped)


def numbered(n: int) -> bytes:
    return wasm(f'(module (func (export "n") (result i32) i32.const {n}))')


def test_the_process_keeps_the_most_recently_compiled_modules(compiles: list[int]) -> None:
    cache = ModuleCache(None, b"k", max_modules=2)
    first = cache.load(numbered(1))
    cache.load(numbered(2))
    cache.load(numbered(3))
    assert cache.cached(first.sha256) is None
    assert [cache.cached(cache.load(numbered(n)).sha256) is not None for n in (2, 3)] == [True, True]
    assert len(compiles) == 3
    cache.load(numbered(1))
    assert len(compiles) == 4


def test_a_module_compiled_without_keeping_is_kept_only_when_asked(tmp_path: Path) -> None:
    cache = ModuleCache(tmp_path, b"k")
    compiled = cache.load(wasm(), keep=False)
    assert cache.cached(compiled.sha256) is None
    assert not artifact_path(tmp_path).exists()
    cache.keep(compiled)
    assert cache.cached(compiled.sha256) is compiled
    assert artifact_path(tmp_path).exists()
    cache.keep(compiled)  # already kept: nothing changes
    assert cache.load(wasm(), keep=False) is compiled


def test_a_module_from_disk_is_not_written_again(tmp_path: Path) -> None:
    ModuleCache(tmp_path, b"k").load(wasm())
    written = artifact_path(tmp_path).stat().st_mtime_ns
    time.sleep(0.01)
    ModuleCache(tmp_path, b"k").load(wasm())
    assert artifact_path(tmp_path).stat().st_mtime_ns == written
