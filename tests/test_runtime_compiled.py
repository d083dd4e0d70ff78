from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime

from wasmhooks.runtime import CompiledModule, FunctionSignature, ModuleCache, ModuleInvalid, engine
from wasmhooks.runtime import compiled as compiled_module
from wasmhooks.runtime.artifacts import ArtifactStore

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
    """Counts `Module.deserialize` calls, from memory (each still runs for real)."""
    calls: list[int] = []
    real = wasmtime.Module.deserialize.__func__  # type: ignore[attr-defined]

    def counting(cls: type[wasmtime.Module], engine: wasmtime.Engine, encoded: bytes) -> wasmtime.Module:
        calls.append(len(encoded))
        module: wasmtime.Module = real(cls, engine, encoded)
        return module

    monkeypatch.setattr(wasmtime.Module, "deserialize", classmethod(counting))
    return calls


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts `Module.deserialize_file` calls, which map the file (each still runs for real)."""
    calls: list[str] = []
    real = wasmtime.Module.deserialize_file.__func__  # type: ignore[attr-defined]

    def counting(cls: type[wasmtime.Module], engine: wasmtime.Engine, path: str) -> wasmtime.Module:
        calls.append(path)
        module: wasmtime.Module = real(cls, engine, path)
        return module

    monkeypatch.setattr(wasmtime.Module, "deserialize_file", classmethod(counting))
    return calls


@pytest.fixture
def described(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts descriptions asked of wasmtime (each still runs for real)."""
    calls: list[str] = []
    real = compiled_module._describe

    def counting(module: wasmtime.Module, sha256: str, size: int) -> CompiledModule:
        calls.append(sha256)
        return real(module, sha256, size)

    monkeypatch.setattr(compiled_module, "_describe", counting)
    return calls


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts signatures worked out over an artifact, i.e. artifacts hashed in full."""
    calls: list[int] = []
    real = ArtifactStore.sign

    def counting(self: ArtifactStore, sha256: str, artifact: bytes, description: bytes) -> bytes:
        calls.append(len(artifact))
        return real(self, sha256, artifact, description)

    monkeypatch.setattr(ArtifactStore, "sign", counting)
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


def artifact_path(cache_dir: Path, module: bytes = b"", extension: str = ".cwasm", key: bytes = KEY) -> Path:
    sha256 = hashlib.sha256(module or wasm()).hexdigest()
    return ArtifactStore(cache_dir, key).path(sha256, extension)


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
    assert compiled.imported_functions == {("wasmhooks", "log"): FunctionSignature(("i32", "i32", "i32"), ())}


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
    with cache._loading.hold(
        hashlib.sha256(wasm()).hexdigest()
    ):  # every thread misses the fast path and queues
        threads = [threading.Thread(target=lambda: results.append(cache.load(wasm()))) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert len(compiles) == 1
    assert len({id(result) for result in results}) == 1


def names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def test_artifact_files_are_named_by_sha256_engine_fingerprint_and_key(tmp_path: Path) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    sha256 = hashlib.sha256(wasm()).hexdigest()
    stem = artifact_path(tmp_path, extension="").name
    assert stem.startswith(f"{sha256}-{engine.fingerprint()}-")
    assert names(tmp_path) == [f"{stem}.cwasm", f"{stem}.lock", f"{stem}.sig"]
    assert artifact_path(tmp_path, key=b"another key") != artifact_path(tmp_path)


def test_the_artifact_is_the_serialized_module_and_the_sig_its_signature_and_seal(tmp_path: Path) -> None:
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    artifact = artifact_path(tmp_path).read_bytes()
    assert artifact == bytes(compiled.module.serialize())
    record = artifact_path(tmp_path, extension=".sig").read_bytes()
    description = record[64:]
    assert json.loads(description)["functions"]["answer"] == [[], ["i32"]]
    assert record[:32] == ArtifactStore(tmp_path, KEY).sign(compiled.sha256, artifact, description)


def test_restarted_process_maps_the_sealed_artifact_without_compiling_hashing_or_describing_it(
    tmp_path: Path,
    compiles: list[int],
    deserialized: list[int],
    mapped: list[str],
    signed: list[int],
    described: list[str],
) -> None:
    first = ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(compiles), len(deserialized), len(mapped), len(signed), len(described)) == (1, 0, 0, 1, 1)
    signed.clear()
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(compiles), len(deserialized), len(signed), len(described)) == (1, 0, 0, 1)
    assert len(mapped) == 1 and mapped[0].startswith("/dev/fd/")
    for name in ("functions", "memories", "imports", "imported_functions"):
        assert getattr(compiled, name) == getattr(first, name)
    assert (compiled.sha256, compiled.size) == (first.sha256, first.size)


def test_a_description_in_another_format_is_asked_of_wasmtime_again(
    tmp_path: Path, described: list[str], mapped: list[str]
) -> None:
    sha256 = hashlib.sha256(wasm()).hexdigest()
    store = ArtifactStore(tmp_path, KEY)
    store.store(sha256, wasmtime.Module(engine.get_engine(), wasm()), b'{"format": 0}')
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(mapped), len(described)) == (1, 1)
    assert compiled.functions["answer"] == FunctionSignature((), ("i32",))


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    replace(path, bytes(data))


def truncate(path: Path) -> None:
    replace(path, path.read_bytes()[:20])


def replace_with_foreign_file(path: Path) -> None:
    replace(path, bytes(wasmtime.Module(engine.get_engine(), numbered(7)).serialize()))


def sign_with_another_key(path: Path) -> None:
    """What an attacker who knows how files are named could put there: a valid artifact, signed
    and sealed with another key."""
    for extension in (".cwasm", ".sig"):
        artifact_path(path.parent, extension=extension).unlink()
    ModuleCache(path.parent, b"another key").load(wasm())
    for extension in (".cwasm", ".sig"):
        artifact_path(path.parent, extension=extension, key=b"another key").rename(
            artifact_path(path.parent, extension=extension)
        )


def rewrite_in_place(path: Path) -> None:
    """Same inode, same size: only the change time tells. It moves in ticks of the kernel's
    clock (a few ms), so wait for the next one, as the module docstring of `artifacts` says."""
    time.sleep(0.05)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with open(path, "r+b") as handle:
        handle.write(data)


def replace(path: Path, data: bytes) -> None:
    """Put a new file in place, as anyone who may write the folder can."""
    temporary = path.with_suffix(".new")
    temporary.write_bytes(data)
    temporary.replace(path)


@pytest.mark.parametrize(
    "spoil", [flip_last_byte, truncate, rewrite_in_place, replace_with_foreign_file, sign_with_another_key]
)
def test_unsigned_or_tampered_artifact_is_never_deserialized_and_is_replaced(
    tmp_path: Path,
    spoil: Callable[[Path], None],
    compiles: list[int],
    deserialized: list[int],
    mapped: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, signature = artifact_path(tmp_path), artifact_path(tmp_path, extension=".sig")
    ModuleCache(tmp_path, KEY).load(wasm())
    spoil(path)
    spoiled = path.read_bytes(), signature.read_bytes()
    compiles.clear()

    compiled = ModuleCache(tmp_path, KEY).load(wasm())

    assert deserialized == [] and mapped == [] and len(compiles) == 1
    assert "answer" in compiled.functions
    assert "ignoring unsigned or tampered compiled module" in caplog.text
    assert (path.read_bytes(), signature.read_bytes()) != spoiled
    ModuleCache(tmp_path, KEY).load(wasm())
    assert len(mapped) == 1 and len(compiles) == 1


def test_signed_artifact_wasmtime_rejects_is_recompiled(
    tmp_path: Path, compiles: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    store = ArtifactStore(tmp_path, KEY)
    sha256 = hashlib.sha256(wasm()).hexdigest()
    garbage = b"not a serialized module"
    artifact_path(tmp_path).write_bytes(garbage)
    signature = store.sign(sha256, garbage, b"")
    seal = store._seal(sha256, signature, artifact_path(tmp_path).stat(), b"")
    artifact_path(tmp_path, extension=".sig").write_bytes(signature + seal)

    assert "answer" in ModuleCache(tmp_path, KEY).load(wasm()).functions
    assert len(compiles) == 1
    assert "cannot load compiled module" in caplog.text


def test_unwritable_cache_dir_still_compiles(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="wasmhooks.runtime"):
        compiled = ModuleCache(blocker / "cache", KEY).load(wasm())
    assert "answer" in compiled.functions
    assert "cannot write compiled module cache" in caplog.text


def test_an_unwritable_cache_dir_is_reported_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    cache = ModuleCache(blocker / "cache", KEY)
    with caplog.at_level(logging.DEBUG, logger="wasmhooks.runtime"):
        cache.load(numbered(1))
        cache.load(numbered(2))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().startswith("cannot write compiled module cache") for r in warnings] == [True]
    assert sum("cannot write compiled module cache" in r.getMessage() for r in caplog.records) > 1


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    artifact_path(tmp_path).mkdir()  # cannot be read, nor replaced by a file
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    assert "answer" in compiled.functions
    assert "cannot write compiled module cache" in caplog.text
    assert names(tmp_path) == sorted(artifact_path(tmp_path, extension=e).name for e in (".cwasm", ".lock"))


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
    assert [path.suffix for path in tmp_path.iterdir()] == [".lock"]  # no artifact


def test_a_type_error_names_the_reason() -> None:
    mistyped = wasmtime.wat2wasm('(module (func (export "f") (result i32) (i64.const 1)))')
    with pytest.raises(ModuleInvalid, match=r"type mismatch"):
        ModuleCache(None, KEY).load(mistyped)


def numbered(n: int) -> bytes:
    return wasm(f'(module (func (export "n") (result i32) i32.const {n}))')


def test_a_module_waiting_for_another_process_does_not_hold_up_other_modules(
    tmp_path: Path, compiles: list[int]
) -> None:
    cache = ModuleCache(tmp_path, KEY)
    waiting = numbered(1)
    loaded: list[CompiledModule] = []
    # Another process of the host compiles module 1: it holds the host's lock on it.
    with ArtifactStore(tmp_path, KEY).lock(hashlib.sha256(waiting).hexdigest()):
        waiter = threading.Thread(target=lambda: loaded.append(cache.load(waiting)))
        waiter.start()
        time.sleep(0.1)
        other = threading.Thread(target=lambda: loaded.append(cache.load(numbered(2))))
        other.start()
        other.join(10)
        assert [compiled.sha256 for compiled in loaded] == [hashlib.sha256(numbered(2)).hexdigest()]
        assert waiter.is_alive()
    waiter.join(10)
    assert len(loaded) == 2
    assert compiles == [len(numbered(2)), len(waiting)]


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
    assert list(tmp_path.iterdir()) == []  # a rejected upload leaves nothing behind
    cache.keep(compiled)
    assert cache.cached(compiled.sha256) is compiled
    assert artifact_path(tmp_path, key=b"k").exists()
    cache.keep(compiled)  # already kept: nothing changes
    assert cache.load(wasm(), keep=False) is compiled


def test_a_module_loaded_without_keeping_comes_from_disk_when_sealed_there(
    tmp_path: Path, compiles: list[int], mapped: list[str]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    compiled = ModuleCache(tmp_path, KEY).load(wasm(), keep=False)
    assert (len(compiles), len(mapped)) == (1, 1)
    assert "answer" in compiled.functions


def test_keeping_a_module_another_process_stored_meanwhile_does_not_write_it_again(tmp_path: Path) -> None:
    checking = ModuleCache(tmp_path, KEY)
    compiled = checking.load(wasm(), keep=False)
    ModuleCache(tmp_path, KEY).load(wasm())  # another process, faster
    written = artifact_path(tmp_path).stat().st_mtime_ns
    time.sleep(0.01)
    checking.keep(compiled)
    assert artifact_path(tmp_path).stat().st_mtime_ns == written
    assert checking.cached(compiled.sha256) is compiled


def test_a_module_from_disk_is_not_written_again(tmp_path: Path) -> None:
    ModuleCache(tmp_path, b"k").load(wasm())
    written = artifact_path(tmp_path, key=b"k").stat().st_mtime_ns
    time.sleep(0.01)
    ModuleCache(tmp_path, b"k").load(wasm())
    assert artifact_path(tmp_path, key=b"k").stat().st_mtime_ns == written


def test_after_a_fork_a_module_is_mapped_again_from_its_sealed_artifact(
    tmp_path: Path, compiles: list[int], deserialized: list[int], mapped: list[str], described: list[str]
) -> None:
    cache = ModuleCache(tmp_path, KEY)
    compiled = cache.load(wasm())
    ticker = engine._ticker
    engine._reset_after_fork()  # what a forked child sees
    if ticker is not None:
        ticker.stop()
    described.clear()
    refreshed = cache.refresh(compiled)
    assert refreshed.generation == engine.generation() != compiled.generation
    assert (len(compiles), len(deserialized), len(mapped), len(described)) == (1, 0, 1, 0)
    assert refreshed.functions == compiled.functions
    assert refreshed.module is not compiled.module


def test_a_module_is_mapped_into_another_engine_with_the_same_settings(
    tmp_path: Path, deserialized: list[int], mapped: list[str]
) -> None:
    other = wasmtime.Engine(engine._build_config())
    on_disk, in_memory = ModuleCache(tmp_path, KEY), ModuleCache(None, KEY)
    for cache in (on_disk, in_memory):
        compiled = cache.load(wasm())
        module = cache.module_for(other, compiled)
        store = wasmtime.Store(other)
        store.set_fuel(1000)
        store.set_epoch_deadline(1)
        imports = [
            wasmtime.Func(store, wasmtime.FuncType([wasmtime.ValType.i32()] * 3, []), lambda *args: None),
            wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(2, None))),
            wasmtime.Table(
                store, wasmtime.TableType(wasmtime.ValType.funcref(), wasmtime.Limits(1, None)), None
            ),
            wasmtime.Global(store, wasmtime.GlobalType(wasmtime.ValType.i32(), False), 1),
        ]
        answer = wasmtime.Instance(store, module, imports).exports(store)["answer"]
        assert answer(store) == 42  # type: ignore[operator]
    assert (len(mapped), len(deserialized)) == (1, 1)  # from the disk; from memory


def test_a_module_is_known_by_its_sha256_from_memory_or_the_folder_never_compiled(
    tmp_path: Path, compiles: list[int]
) -> None:
    module = wasm()
    sha256 = hashlib.sha256(module).hexdigest()
    assert ModuleCache(None, KEY).load_known(sha256, len(module)) is None  # no folder, not in memory
    first = ModuleCache(tmp_path, KEY)
    assert first.load_known(sha256, len(module)) is None
    compiled = first.load(module)
    assert first.load_known(sha256, len(module)) is compiled
    restarted = ModuleCache(tmp_path, KEY)
    known = restarted.load_known(sha256, len(module))
    assert known is not None and (known.sha256, known.size, known.functions) == (
        sha256,
        len(module),
        compiled.functions,
    )
    assert restarted.load(module) is known
    assert compiles == [len(module)]


def test_a_module_known_meanwhile_by_another_thread_is_not_loaded_twice(tmp_path: Path) -> None:
    module = wasm()
    sha256 = hashlib.sha256(module).hexdigest()
    ModuleCache(tmp_path, KEY).load(module)
    cache = ModuleCache(tmp_path, KEY)
    other = ModuleCache(tmp_path, KEY).load_known(sha256, len(module))
    assert other is not None
    found: list[CompiledModule | None] = []
    with cache._loading.hold(
        sha256
    ):  # the thread misses the fast path and waits; meanwhile another load lands
        thread = threading.Thread(target=lambda: found.append(cache.load_known(sha256, len(module))))
        thread.start()
        time.sleep(0.05)
        cache._remember(other)
    thread.join()
    assert found == [other]
