"""ABI v1 output, log, now_ms and random_bytes; bounds of every pointer; memory growth."""

from __future__ import annotations

import logging
import time

import pytest

from tests.guests import guest, guest_wat
from tests.test_abi_support import (
    BUF,
    DATA,
    HOST,
    LIMITS,
    PAGE,
    SIGNATURES,
    FakeRequest,
    Guest,
    MemoryKV,
    hook_call,
    invoke,
    place,
    probe,
    probe_wasm,
)
from wasmhooks.abi import Phase, v1
from wasmhooks.runtime import HookABIError
from wasmhooks.testutils import wasm_from_wat

GUEST_LOGGER = "wasmhooks.guest.mod"

# How each host function takes its arguments: "s" a (ptr, len) it reads, "b" a (buf, cap) it
# writes, a digit a plain number.
ARGUMENTS = {
    **dict.fromkeys(
        [
            "request_method",
            "request_path",
            "request_query",
            "request_headers",
            "request_body",
            "request_client_ip",
            "request_user",
            "config",
            "input",
            "response_body",
            "random_bytes",
        ],
        "b",
    ),
    **dict.fromkeys(["request_header", "route_param", "context_get", "response_header", "kv_get"], "sb"),
    **dict.fromkeys(
        ["request_set_header", "context_set", "response_set_header", "response_add_header"], "ss"
    ),
    **dict.fromkeys(
        ["request_remove_header", "response_remove_header", "response_set_body", "output", "kv_delete"], "s"
    ),
    "kv_set": "ss0",
    "kv_incr": "s1",
    "log": "1s",
    "response_set_status": "2",
    "response_status": "",
    "now_ms": "",
}
RANGE_FUNCTIONS = sorted(name for name, kinds in ARGUMENTS.items() if "s" in kinds or "b" in kinds)
OUTSIDE = {
    "past-the-end": (PAGE - 4, 8),
    "starts-past-the-end": (PAGE + 1, 0),
    "wraps-32-bits": (0xFFFFFFF0, 0x20),
    "negative-pointer": (-8, 4),
    "negative-length": (0, -1),
}
STATES = {
    "everything-allowed": lambda: hook_call(kv=MemoryKV(), route_params={"X-Ok": "1"}),
    "nothing-available": lambda: hook_call(Phase.CALL),
}


def arguments(name: str, replace: int | None = None, with_range: tuple[int, int] = (0, 0)) -> list[int]:
    """Valid arguments for `name` ("X-Ok" to read, 16 bytes at BUF to write), one range replaced."""
    values: list[int] = []
    for index, kind in enumerate(ARGUMENTS[name]):
        if index == replace:
            values.extend(with_range)
        elif kind in "sb":
            values.extend((DATA, 4) if kind == "s" else (BUF, 16))
        else:
            values.append(int(kind))
    return values


def test_the_argument_table_describes_every_host_function():
    assert ARGUMENTS.keys() == SIGNATURES.keys()
    for name in ARGUMENTS:
        assert len(arguments(name)) == len(SIGNATURES[name].params), name


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("bad", OUTSIDE)
@pytest.mark.parametrize(
    ("name", "position"),
    [(name, index) for name in RANGE_FUNCTIONS for index, kind in enumerate(ARGUMENTS[name]) if kind in "sb"],
)
def test_a_range_outside_memory_traps_without_touching_memory(name, position, bad, state):
    data, _ = place("X-Ok")
    runner = Guest(probe_wasm(name, *arguments(name, position, OUTSIDE[bad]), data=data), STATES[state]())
    with pytest.raises(HookABIError, match="outside guest memory"):
        runner()
    assert runner.read(PAGE - 16, 16) == bytes(16)
    assert runner.read(BUF, 16) == bytes(16)


@pytest.mark.parametrize("name", RANGE_FUNCTIONS)
def test_ranges_ending_exactly_at_the_end_of_memory_are_inside(name):
    data, _ = place("X-Ok")
    for index, kind in enumerate(ARGUMENTS[name]):
        if kind in "sb":
            args = arguments(name, index, (PAGE - 4, 4))
            Guest(probe_wasm(name, *args, data=data), STATES["everything-allowed"]())()


def test_host_functions_reach_memory_the_guest_grew():
    body = f"""(func (export "probe") (result i32)
      (drop (memory.grow (i32.const 1)))
      {invoke("request_method", PAGE + 100, 8)})"""
    runner = Guest(guest(body), hook_call())
    assert runner() == 3
    assert runner.read(PAGE + 100, 4) == b"GET\0"


def test_a_host_function_called_outside_a_hook_call_traps():
    runner = Guest(probe_wasm("config", BUF, 4), None)  # type: ignore[arg-type]
    with pytest.raises(HookABIError, match="outside a hook call"):
        runner()


def test_a_host_function_needing_memory_traps_when_the_guest_exports_none():
    wat = guest_wat(f'(func (export "probe") (result i32) {invoke("config", 0, 0)})').replace(
        '(memory (export "memory") 1)', "(memory 1)"
    )
    with pytest.raises(HookABIError, match="exports no memory"):
        Guest(wasm_from_wat(wat), hook_call())()


def test_the_host_serves_the_next_call_after_a_bad_pointer():
    bad = HOST.compile(probe_wasm("config", -8, 4))
    good = HOST.compile(probe_wasm("config", BUF, 4))
    for _ in range(2):
        with pytest.raises(HookABIError):
            HOST.call(bad, "probe", limits=LIMITS, state=hook_call(config=b"cfg"), label="mod")
        assert HOST.call(good, "probe", limits=LIMITS, state=hook_call(config=b"cfg"), label="mod") == 3


# output --------------------------------------------------------------------------------------


def test_output_appends_in_a_call():
    call = hook_call(Phase.CALL)
    data, [first, second] = place(b"ab\x00", b"cd")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("output", *first)})
      (drop {invoke("output", DATA, 0)})
      {invoke("output", *second)})"""
    assert Guest(guest(body, data=data), call)() == v1.OK
    assert call.output == b"ab\x00cd"


@pytest.mark.parametrize("phase", [Phase.REQUEST, Phase.RESPONSE])
def test_output_outside_a_call_is_not_allowed(phase):
    call = hook_call(phase)
    data, [text] = place("x")
    assert probe("output", *text, call=call, data=data).result == v1.NOT_ALLOWED
    assert call.output == b""


def test_output_past_the_limit_is_too_large_and_keeps_what_was_written(monkeypatch):
    monkeypatch.setattr(v1, "MAX_OUTPUT_BYTES", 4)
    call = hook_call(Phase.CALL)
    data, [first, second, third] = place("abc", "de", "d")
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("output", *first)})
      (i32.store (i32.const {BUF}) {invoke("output", *second)})
      {invoke("output", *third)})"""
    runner = Guest(guest(body, data=data), call)
    assert runner() == v1.OK
    assert int.from_bytes(runner.read(BUF, 4), "little", signed=True) == v1.TOO_LARGE
    assert call.output == b"abcd"


# log -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "python_level"),
    [(0, logging.DEBUG), (1, logging.INFO), (2, logging.WARNING), (3, logging.ERROR)],
)
def test_log_reaches_the_call_logger_at_its_level(caplog, level, python_level):
    caplog.set_level(logging.DEBUG, logger=GUEST_LOGGER)
    data, [message] = place("hello %s")
    call = hook_call(logger=logging.getLogger(GUEST_LOGGER))
    assert probe("log", level, *message, call=call, data=data).result == 0
    assert caplog.record_tuples == [(GUEST_LOGGER, python_level, "hello %s")]


@pytest.mark.parametrize("level", [4, 7, -1])
def test_log_with_an_unknown_level_traps(caplog, level):
    caplog.set_level(logging.DEBUG, logger=GUEST_LOGGER)
    data, [message] = place("hello")
    with pytest.raises(HookABIError, match=f"level {level} is not"):
        probe("log", level, *message, call=hook_call(logger=logging.getLogger(GUEST_LOGGER)), data=data)
    assert caplog.records == []


@pytest.mark.parametrize(
    ("raw", "logged"), [(b"a \xff b", "a \ufffd b"), (b"123456789", "12345678"), (b"", "")]
)
def test_log_replaces_invalid_utf8_and_caps_the_message(monkeypatch, caplog, raw, logged):
    monkeypatch.setattr(v1, "MAX_LOG_BYTES", 8)
    caplog.set_level(logging.DEBUG, logger=GUEST_LOGGER)
    data, [message] = place(raw)
    probe("log", 1, *message, call=hook_call(logger=logging.getLogger(GUEST_LOGGER)), data=data)
    assert [record.getMessage() for record in caplog.records] == [logged]


# now_ms and random_bytes ----------------------------------------------------------------------


def test_now_ms_is_the_wall_clock_in_milliseconds():
    before = time.time_ns() // 1_000_000
    now = probe("now_ms", call=hook_call(Phase.CALL)).result
    assert before <= now <= time.time_ns() // 1_000_000


def test_random_bytes_fills_exactly_len_bytes_with_fresh_values():
    body = f"""(func (export "probe") (result i32)
      (drop {invoke("random_bytes", BUF, 32)})
      {invoke("random_bytes", BUF + 64, 32)})"""
    runner = Guest(guest(body), hook_call(Phase.CALL))
    assert runner() == v1.OK
    first, second = runner.read(BUF, 32), runner.read(BUF + 64, 32)
    assert first != bytes(32) and second != bytes(32) and first != second
    assert runner.read(BUF + 32, 32) == bytes(32)


@pytest.mark.parametrize(("length", "expected"), [(0, v1.OK), (16, v1.OK), (17, v1.TOO_LARGE)])
def test_random_bytes_refuses_more_than_the_limit(monkeypatch, length, expected):
    monkeypatch.setattr(v1, "MAX_RANDOM_BYTES", 16)
    runner = probe("random_bytes", BUF, length, call=hook_call(Phase.CALL))
    assert runner.result == expected
    assert (runner.read(BUF, 16) != bytes(16)) == (length == 16)
    assert runner.read(BUF + 16, 1) == b"\0"


def test_readers_see_the_request_of_a_call_too():
    call = hook_call(Phase.CALL, request=FakeRequest(path="/called"))
    runner = probe("request_path", BUF, 16, call=call)
    assert runner.read(BUF, runner.result) == b"/called"
