"""The disk cache: which artifacts load without hashing them, and one compile per host.

The processes here are real (multiprocessing, spawned), and compiles are counted by the log
line `ModuleCache` writes for each one.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import multiprocessing
import os
import shutil
import threading
import time
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import wasmtime

from tests import test_runtime_compiled
from tests.test_runtime_compiled import KEY, artifact_path, wasm
from wasmhooks.runtime import CompiledModule, ModuleCache, artifacts, engine
from wasmhooks.runtime.artifacts import ArtifactStore

SPAWN = multiprocessing.get_context("spawn")

# The fixtures that count what wasmtime does.
compiles = test_runtime_compiled.compiles
deserialized = test_runtime_compiled.deserialized
mapped = test_runtime_compiled.mapped
signed = test_runtime_compiled.signed


def test_a_copied_artifact_is_checked_in_full_once_then_sealed(
    tmp_path: Path, compiles: list[int], deserialized: list[int], mapped: list[str], signed: list[int]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    path = artifact_path(tmp_path)
    shutil.copyfile(path, tmp_path / "copy")
    (tmp_path / "copy").replace(path)  # same bytes, another file: as restored from a backup
    signed.clear()

    ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(signed), len(deserialized), len(mapped)) == (1, 1, 0)
    ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(signed), len(deserialized), len(mapped)) == (1, 1, 1)
    assert len(compiles) == 1


def test_a_touched_artifact_is_checked_in_full_once(
    tmp_path: Path, compiles: list[int], deserialized: list[int], mapped: list[str]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    os.utime(artifact_path(tmp_path), ns=(1, 1))
    ModuleCache(tmp_path, KEY).load(wasm())
    ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(compiles), len(deserialized), len(mapped)) == (1, 1, 1)


def test_a_signature_without_its_seal_is_checked_then_sealed(
    tmp_path: Path, deserialized: list[int], mapped: list[str]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    record = artifact_path(tmp_path, extension=".sig")
    sealed = record.read_bytes()
    record.write_bytes(sealed[:32] + bytes(32) + sealed[64:])
    ModuleCache(tmp_path, KEY).load(wasm())
    assert record.read_bytes() == sealed
    ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(deserialized), len(mapped)) == (1, 1)


def test_a_tampered_description_is_never_believed(
    tmp_path: Path, deserialized: list[int], mapped: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    record = artifact_path(tmp_path, extension=".sig")
    record.write_bytes(record.read_bytes().replace(b'"answer"', b'"ANSWER"'))
    compiled = ModuleCache(tmp_path, KEY).load(wasm())
    assert "answer" in compiled.functions and "ANSWER" not in compiled.functions
    assert "ignoring unsigned or tampered compiled module" in caplog.text
    assert deserialized == mapped == []


def test_an_artifact_others_may_write_is_checked_in_full_every_time(
    tmp_path: Path, compiles: list[int], deserialized: list[int], mapped: list[str]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    artifact_path(tmp_path).chmod(0o664)
    for _ in range(2):
        assert "answer" in ModuleCache(tmp_path, KEY).load(wasm()).functions
    assert (len(compiles), len(deserialized), len(mapped)) == (1, 2, 0)


def test_an_artifact_of_another_user_is_checked_in_full_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deserialized: list[int], mapped: list[str]
) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    monkeypatch.setattr(os, "geteuid", lambda: artifact_path(tmp_path).stat().st_uid + 1)
    for _ in range(2):
        ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(deserialized), len(mapped)) == (2, 0)


def test_without_dev_fd_every_load_is_checked_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[int], deserialized: list[int]
) -> None:
    monkeypatch.setattr(artifacts, "_FD_FOLDER", None)
    for _ in range(3):
        ModuleCache(tmp_path, KEY).load(wasm())
    assert (len(compiles), len(deserialized)) == (1, 2)


def test_a_signature_without_its_artifact_is_ignored(tmp_path: Path, compiles: list[int]) -> None:
    ModuleCache(tmp_path, KEY).load(wasm())
    artifact_path(tmp_path).unlink()
    ModuleCache(tmp_path, KEY).load(wasm())
    assert len(compiles) == 2
    assert artifact_path(tmp_path).exists()


# One compile per host.


def big_module(functions: int = 1500) -> bytes:
    """A module that takes a while to compile, so that processes starting together overlap."""
    body = "\n".join(
        f"""(func $f{n} (export "f{n}") (param $x i32) (result i32) (local $a i32)
  (local.set $a (i32.mul (local.get $x) (i32.const {n + 3})))
  (block $out (loop $top
    (br_if $out (i32.gt_u (local.get $a) (i32.const {n * 7 + 100})))
    (local.set $a (i32.add (i32.xor (local.get $a) (i32.const {n})) (i32.const 17)))
    (br $top)))
  (i32.rem_u (local.get $a) (i32.const {n % 89 + 1})))"""
        for n in range(functions)
    )
    return bytes(wasmtime.wat2wasm(f"(module {body})"))


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def load_together(folder: str, module: bytes, start: Barrier, results: Any) -> None:
    """In a spawned process: wait for the others, load `module`, report how many compiles."""
    lines = Lines()
    logger = logging.getLogger("wasmhooks.runtime")
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    start.wait()
    compiled = ModuleCache(folder, KEY).load(module)
    results.put((sum(m.startswith("compiled module") for m in lines.messages), len(compiled.functions)))


def hold_lock(folder: str, sha256: str, held: Event) -> None:
    """In a spawned process: take the host lock on `sha256` and keep it until killed."""
    with artifacts.ArtifactStore(folder, KEY).lock(sha256):
        held.set()
        time.sleep(600)


def test_processes_loading_a_new_module_at_once_compile_it_once(tmp_path: Path) -> None:
    module = big_module()
    workers = 4
    start, results = SPAWN.Barrier(workers), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=load_together, args=(str(tmp_path), module, start, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert sorted(compiled for compiled, _functions in reports) == [0, 0, 0, 1]
    assert {functions for _compiled, functions in reports} == {1500}


def test_a_load_that_waited_for_the_lock_maps_what_the_holder_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[int], mapped: list[str]
) -> None:
    store = artifacts.ArtifactStore(tmp_path, KEY)
    sha256 = artifact_path(tmp_path).name.split("-")[0]
    waiting, loaded = threading.Event(), []
    acquire = artifacts.ArtifactStore._acquire

    def announced(self: artifacts.ArtifactStore, *args: Any) -> bool:
        waiting.set()
        return acquire(self, *args)

    monkeypatch.setattr(artifacts.ArtifactStore, "_acquire", announced)
    with store.lock(sha256):  # as another process would
        thread = threading.Thread(target=lambda: loaded.append(ModuleCache(tmp_path, KEY).load(wasm())))
        thread.start()
        assert waiting.wait(10)  # it found nothing on disk and waits for the lock
        store.store(sha256, wasmtime.Module(engine.get_engine(), wasm()), b"")
    thread.join(10)
    assert "answer" in loaded[0].functions
    assert (len(compiles), len(mapped)) == (1, 1)  # the holder's compile, then a mapping


@pytest.fixture
def holder(tmp_path: Path) -> Any:
    """A process holding the host lock on `wasm()`'s module; killed at the end."""
    held = SPAWN.Event()
    sha256 = artifact_path(tmp_path).name.split("-")[0]
    process = SPAWN.Process(target=hold_lock, args=(str(tmp_path), sha256, held))
    process.start()
    assert held.wait(60)
    yield process
    process.kill()
    process.join()


def test_a_lock_whose_holder_died_does_not_block(
    tmp_path: Path, holder: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(artifacts, "LOCK_TIMEOUT", 30.0)
    holder.kill()
    holder.join()
    assert "answer" in ModuleCache(tmp_path, KEY).load(wasm()).functions
    assert "waited" not in caplog.text


def test_a_holder_that_takes_too_long_is_not_waited_for_forever(
    tmp_path: Path, holder: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(artifacts, "LOCK_TIMEOUT", 0.2)
    assert "answer" in ModuleCache(tmp_path, KEY).load(wasm()).functions
    assert "waited 0 s for another process compiling" in caplog.text
    assert artifact_path(tmp_path).exists()


def test_without_flock_each_process_compiles_what_it_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapped: list[str]
) -> None:
    monkeypatch.setattr(artifacts, "_fcntl", None)  # as on Windows
    ModuleCache(tmp_path, KEY).load(wasm())
    assert not artifact_path(tmp_path, extension=".lock").exists()
    ModuleCache(tmp_path, KEY).load(wasm())
    assert len(mapped) == 1


def test_a_lock_file_that_cannot_be_opened_is_reported_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mapped: list[str]
) -> None:
    artifact_path(tmp_path, extension=".lock").mkdir()
    ModuleCache(tmp_path, KEY).load(wasm())
    assert "cannot write compiled module cache" in caplog.text
    ModuleCache(tmp_path, KEY).load(wasm())
    assert len(mapped) == 1


def test_a_folder_without_locks_is_reported_and_used_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(artifacts, "_fcntl", SimpleNamespace(flock=no_locks, LOCK_EX=2, LOCK_NB=4, LOCK_UN=8))
    ModuleCache(tmp_path, KEY).load(wasm())
    assert "cannot lock" in caplog.text
    assert artifact_path(tmp_path).exists()


# Another user who can write the folder, but not our files.


def answering(value: int) -> bytes:
    return bytes(wasmtime.wat2wasm(f'(module (func (export "f") (result i32) i32.const {value}))'))


def answer(compiled: CompiledModule) -> int:
    store = wasmtime.Store(engine.get_engine())
    store.set_fuel(10**6)
    store.set_epoch_deadline(10**6)
    function = wasmtime.Instance(store, compiled.module, []).exports(store)["f"]
    assert isinstance(function, wasmtime.Func)
    result: int = function(store)
    return result


def test_one_modules_sealed_files_never_pass_for_anothers(tmp_path: Path) -> None:
    first, second = answering(111), answering(222)
    ModuleCache(tmp_path, KEY).load(first)
    ModuleCache(tmp_path, KEY).load(second)
    store = ArtifactStore(tmp_path, KEY)
    a, b = (hashlib.sha256(module).hexdigest() for module in (first, second))
    os.replace(store.path(a, ".sig"), store.path(b, ".sig"))  # the first's signature and seal as the second's
    os.unlink(store.path(b, ".cwasm"))
    os.symlink(store.path(a, ".cwasm"), store.path(b, ".cwasm"))  # and its artifact
    assert answer(ModuleCache(tmp_path, KEY).load(second)) == 222


def test_a_fifo_or_a_link_in_the_folder_is_never_waited_on_nor_followed(tmp_path: Path) -> None:
    module = answering(7)
    store = ArtifactStore(tmp_path, KEY)
    sha256 = hashlib.sha256(module).hexdigest()
    outside = tmp_path / "outside"
    os.mkfifo(store.path(sha256, ".cwasm"))
    os.symlink(outside, store.path(sha256, ".lock"))
    found: list[int] = []
    worker = threading.Thread(target=lambda: found.append(answer(ModuleCache(tmp_path, KEY).load(module))))
    worker.start()
    worker.join(timeout=10)
    assert found == [7]
    assert not outside.exists()


def test_files_too_large_or_that_cannot_be_read_are_as_if_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"12345678")
    assert artifacts._read(path) == b"12345678"
    monkeypatch.setattr(artifacts, "MAX_FILE_BYTES", 7)
    assert artifacts._read(path) is None
    monkeypatch.setattr(artifacts, "MAX_FILE_BYTES", 8)

    def failing_read(fd: int, size: int) -> bytes:
        raise OSError(errno.EIO, "input/output error")

    monkeypatch.setattr(artifacts.os, "read", failing_read)
    assert artifacts._read(path) is None
