from __future__ import annotations

import threading

import pytest
import wasmtime

from wasmhooks.runtime import CallFrame, GuestFault, HostFunction, Limits, WasmHost, current_frame

GUEST = """
(module
  (import "test" "peek" (func $peek))
  (func (export "_initialize") (call $peek))
  (func (export "run") (result i32) (call $peek) i32.const 0)
)
"""


def test_no_frame_outside_a_call() -> None:
    assert current_frame() is None


def test_host_function_sees_the_calls_frame() -> None:
    seen: list[tuple[object, str, str, bool]] = []

    def peek(frame: CallFrame) -> None:
        seen.append((frame.state, frame.module, frame.function, current_frame() is frame))

    host = WasmHost([HostFunction("test", "peek", (), (), peek)])
    compiled = host.compile(bytes(wasmtime.wat2wasm(GUEST)))
    host.call(compiled, "run", limits=Limits(), state="first", label="guest")
    host.call(compiled, "run", limits=Limits(), state="second", label="guest")
    assert seen == [
        ("first", "guest", "_initialize", True),
        ("first", "guest", "run", True),
        ("second", "guest", "run", True),
    ]
    assert current_frame() is None


def test_frames_nest_and_unwind() -> None:
    outer = CallFrame("outer", "m", "f")
    inner = CallFrame("inner", "m", "g")
    with outer:
        with inner:
            assert current_frame() is inner
        assert current_frame() is outer
    assert current_frame() is None


def test_frames_belong_to_their_thread() -> None:
    seen: list[CallFrame | None] = []
    with CallFrame(None, "m", "f"):
        thread = threading.Thread(target=lambda: seen.append(current_frame()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_frame_without_memory_refuses_to_read_it() -> None:
    with pytest.raises(GuestFault, match="exports no memory"):
        CallFrame(None, "m", "f").memory_region()
