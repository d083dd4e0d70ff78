"""WASI preview 1 as a sandbox: logging output, clocks and randomness, and no capabilities."""

from __future__ import annotations

import logging
import time

import pytest

from tests.guests import guest
from tests.test_abi_support import HOST, LIMITS, Guest, hook_call
from wasmhooks.abi import inspect_module, wasi
from wasmhooks.runtime import HookTrap, ModuleInvalid
from wasmhooks.testutils import wasm_from_wat

EBADF = 8
# Memory layout: 0 an iovec (ptr, len), 16 a result slot, 64 text, 256 a buffer.
WASI_GUEST = r"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "hello\nworld\n/etc/passwd")
  (func (export "wasmhooks_abi_v1"))
  (func $write (param $fd i32) (result i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 12))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 16)))
  (func (export "stdout") (result i32) (call $write (i32.const 1)))
  (func (export "stderr") (result i32) (call $write (i32.const 2)))
  (func (export "stdin") (result i32)
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.const 32))
    (i32.store (i32.const 16) (i32.const 99))
    (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
  (func (export "random") (result i32) (call $random_get (i32.const 256) (i32.const 32)))
  (func (export "clock") (result i32) (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 16)))
  (func (export "environ") (result i32)
    (i64.store (i32.const 16) (i64.const -1))
    (call $environ_sizes_get (i32.const 16) (i32.const 20)))
  (func (export "args") (result i32)
    (i64.store (i32.const 16) (i64.const -1))
    (call $args_sizes_get (i32.const 16) (i32.const 20)))
  (func (export "preopen") (result i32) (call $fd_prestat_get (i32.const 3) (i32.const 16)))
  (func (export "open") (result i32)
    (call $path_open (i32.const 3) (i32.const 0) (i32.const 76) (i32.const 11) (i32.const 0)
      (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 16)))
  (func (export "accept") (result i32) (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 16)))
  (func (export "exit_0") (result i32) (call $proc_exit (i32.const 0)) (i32.const 1))
  (func (export "exit_3") (result i32) (call $proc_exit (i32.const 3)) (i32.const 0))
)"""


@pytest.fixture(scope="module")
def wasm() -> bytes:
    return wasm_from_wat(WASI_GUEST)


def run(wasm: bytes, function: str) -> Guest:
    runner = Guest(wasm, hook_call())
    runner(function)
    return runner


def u32(runner: Guest, ptr: int) -> int:
    return int.from_bytes(runner.read(ptr, 4), "little")


@pytest.mark.parametrize(("function", "level"), [("stdout", logging.INFO), ("stderr", logging.WARNING)])
def test_stdout_and_stderr_are_logged_line_by_line(caplog, wasm, function, level):
    caplog.set_level(logging.DEBUG, logger="wasmhooks.guest")
    runner = run(wasm, function)
    assert (runner.result, u32(runner, 16)) == (0, 12)
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (level, "hello"),
        (level, "world"),
    ]


# wasmtime calls the output callbacks on one of its own threads, so the configuration is made
# for one module and logs there whatever thread writes.
def test_wasi_output_goes_to_the_module_logger(caplog, wasm):
    caplog.set_level(logging.INFO, logger="wasmhooks.guest")
    assert HOST.call(HOST.compile(wasm), "stdout", limits=LIMITS, label="labelled") == 0
    assert {record.name for record in caplog.records} == {"wasmhooks.guest.labelled"}


def test_output_logs_each_line_at_the_stream_level(caplog):
    caplog.set_level(logging.INFO, logger="wasmhooks.guest")
    logger = logging.getLogger("wasmhooks.guest.mod")
    assert wasi.GuestOutput(logger, logging.INFO)(b"one\ntwo \xff\n") == 10
    assert wasi.GuestOutput(logger, logging.WARNING)(b"three") == 5
    assert caplog.record_tuples == [
        ("wasmhooks.guest.mod", logging.INFO, "one"),
        ("wasmhooks.guest.mod", logging.INFO, "two \ufffd"),
        ("wasmhooks.guest.mod", logging.WARNING, "three"),
    ]


def test_output_reads_only_the_start_of_a_huge_write(monkeypatch, caplog):
    monkeypatch.setattr(wasi, "MAX_WRITE_BYTES", 8)
    caplog.set_level(logging.INFO, logger="wasmhooks.guest")
    output = wasi.GuestOutput(logging.getLogger("wasmhooks.guest.mod"), logging.INFO)
    assert output(b"1234\n5678\n" * 1000) == 10_000  # all of it taken, most of it not read
    assert [record.getMessage() for record in caplog.records] == ["1234", "567"]


def test_output_past_the_lines_per_second_is_dropped_with_one_warning(monkeypatch, caplog):
    monkeypatch.setattr(wasi, "MAX_LINES_PER_SECOND", 2)
    caplog.set_level(logging.INFO, logger="wasmhooks.guest")
    output = wasi.GuestOutput(logging.getLogger("wasmhooks.guest.mod"), logging.INFO)
    output(b"a\nb\nc\n")
    output(b"d\n")
    assert [record.getMessage() for record in caplog.records] == [
        "a",
        "b",
        "more than 2 lines of output a second: the rest are dropped",
    ]
    output.second -= 1  # a new second starts a new budget
    output(b"e\n")
    assert caplog.records[-1].getMessage() == "e"


def test_a_flood_of_output_in_one_call_stays_within_the_line_budget(caplog):
    caplog.set_level(logging.INFO, logger="wasmhooks.guest")
    flood = wasm_from_wat(
        """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 17)
  (func (export "wasmhooks_abi_v1"))
  (func (export "flood") (result i32)
    (memory.fill (i32.const 64) (i32.const 10) (i32.const 1048576))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 1048576))
    (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))))"""
    )
    assert HOST.call(HOST.compile(flood), "flood", limits=LIMITS, label="flood") == 0
    assert len(caplog.records) <= wasi.MAX_LINES_PER_SECOND * 2 + 2


def test_sleeping_with_poll_oneoff_is_refused_so_the_deadline_holds():
    # A clock subscription of 3 s: with wasmtime's own poll_oneoff the call would sleep 3 s
    # inside the host, past any timeout.
    sleeper = wasm_from_wat(
        """(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasmhooks_abi_v1"))
  (func (export "sleep") (result i32)
    (i64.store (i32.const 0) (i64.const 1))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3000000000))
    (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 192))))"""
    )
    started = time.monotonic()
    result = HOST.call(HOST.compile(sleeper), "sleep", limits=LIMITS, label="sleeper", expect=None)
    assert result == wasi.ENOSYS
    assert time.monotonic() - started < 1


def test_random_get_fills_the_buffer(wasm):
    first, second = run(wasm, "random"), run(wasm, "random")
    assert first.result == 0
    assert first.read(256, 32) != bytes(32)
    assert first.read(256, 32) != second.read(256, 32)


def test_clock_time_get_reads_the_wall_clock(wasm):
    before = time.time_ns()
    runner = run(wasm, "clock")
    assert runner.result == 0
    assert before <= int.from_bytes(runner.read(16, 8), "little") <= time.time_ns()


@pytest.mark.parametrize("function", ["environ", "args"])
def test_there_is_no_environment_and_there_are_no_arguments(wasm, function):
    runner = run(wasm, function)
    assert runner.result == 0
    assert (u32(runner, 16), u32(runner, 20)) == (0, 0)


@pytest.mark.parametrize("function", ["preopen", "open", "accept"])
def test_there_are_no_files_and_no_sockets(wasm, function):
    assert run(wasm, function).result == EBADF


def test_stdin_is_empty(wasm):
    runner = run(wasm, "stdin")
    assert runner.result == 0
    assert u32(runner, 16) == 0


def test_proc_exit_0_is_a_normal_result():
    compiled = HOST.compile(wasm_from_wat(WASI_GUEST))
    assert HOST.call(compiled, "exit_0", limits=LIMITS, state=hook_call(), label="mod") == 0


def test_proc_exit_with_a_code_is_a_trap(wasm):
    with pytest.raises(HookTrap, match="exited with code 3"):
        run(wasm, "exit_3")


def test_a_module_without_wasi_runs_on_the_same_host(wasm):
    plain = HOST.compile(guest('(func (export "probe") (result i32) (i32.const 7))'))
    with_wasi = HOST.compile(wasm)
    assert HOST.call(with_wasi, "stdout", limits=LIMITS, state=hook_call(), label="mod") == 0
    assert HOST.call(plain, "probe", limits=LIMITS, state=hook_call(), label="mod") == 7
    assert (inspect_module(plain).uses_wasi, inspect_module(with_wasi).uses_wasi) == (False, True)


def test_every_wasi_function_offered_is_a_preview1_function():
    assert len(wasi.FUNCTION_NAMES) == 46
    assert {"fd_write", "proc_exit", "random_get", "sock_shutdown"} <= wasi.FUNCTION_NAMES


def test_a_wasi_import_outside_preview1_is_rejected():
    wat = WASI_GUEST.replace('"sock_accept"', '"sock_open"', 1)
    with pytest.raises(ModuleInvalid, match=r"does not provide: wasi_snapshot_preview1\.sock_open$"):
        inspect_module(HOST.compile(wasm_from_wat(wat)))
