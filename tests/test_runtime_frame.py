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
        CallFrame(None, "m", "f").memory_view()


MEMORY_GUEST = """
(module
  (import "test" "look" (func $look))
  (memory (export "memory") 1 4)
  (data (i32.const 0) "first")
  (func (export "run") (result i32) (call $look) i32.const 0)
  (func (export "grow_and_mark") (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.const 70000) (i32.const 42))
    (call $look)
    i32.const 0)
)
"""


def test_memory_is_looked_at_on_first_use_and_again_only_after_it_grew() -> None:
    seen: list[tuple[int, int, bytes]] = []

    def look(frame: CallFrame) -> None:
        view = frame.memory_view()
        grown = frame.grown_memory_view()
        seen.append((len(view), len(grown), bytes(grown[:5])))
        if len(grown) > 70000:
            seen.append((grown[70000], 0, b""))

    host = WasmHost([HostFunction("test", "look", (), (), look)])
    compiled = host.compile(bytes(wasmtime.wat2wasm(MEMORY_GUEST)))
    host.call(compiled, "run", limits=Limits(), label="guest")
    host.call(compiled, "grow_and_mark", limits=Limits(), label="guest")
    host.call(compiled, "run", limits=Limits(), label="guest")
    page = 65536
    assert seen == [
        (page, page, b"first"),
        (page, 2 * page, b"first"),  # the old view until the frame looks again
        (42, 0, b""),
        (2 * page, 2 * page, b"first"),
        (42, 0, b""),
    ]


def test_frame_without_memory_has_no_view() -> None:
    frame = CallFrame(None, "m", "f")
    frame.attach_memory(0, None)
    for look in (frame.memory_view, frame.grown_memory_view):
        with pytest.raises(GuestFault, match="exports no memory"):
            look()


def test_an_empty_memory_has_an_empty_view_until_it_grows() -> None:
    sizes: list[int] = []

    def look(frame: CallFrame) -> None:
        sizes.append(len(frame.grown_memory_view()))

    source = """
    (module
      (import "test" "look" (func $look))
      (memory (export "memory") 0 1)
      (func (export "run") (result i32)
        (call $look) (drop (memory.grow (i32.const 1))) (call $look) i32.const 0))
    """
    host = WasmHost([HostFunction("test", "look", (), (), look)])
    host.call(host.compile(bytes(wasmtime.wat2wasm(source))), "run", limits=Limits(), label="guest")
    assert sizes == [0, 65536]
