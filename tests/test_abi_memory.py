"""`GuestMemory`: every access is bounds-checked, with pointers and lengths read as unsigned."""

from __future__ import annotations

import ctypes

import pytest

from wasmhooks.abi.memory import GuestMemory
from wasmhooks.runtime import GuestFault

SIZE = 64
OUTSIDE = [
    (SIZE - 4, 5),
    (SIZE + 1, 0),
    (0xFFFFFFF0, 0x20),  # ptr + len wraps past 2**32
    (-8, 4),  # -8 is 0xFFFFFFF8
    (0, -1),  # -1 is 0xFFFFFFFF
]


class FakeFrame:
    """A frame whose guest memory is a ctypes buffer, with a canary just past its end."""

    def __init__(self) -> None:
        self.buffer = ctypes.create_string_buffer(SIZE + 8)
        self.buffer[SIZE : SIZE + 8] = b"CANARY!!"

    def memory_view(self) -> memoryview:
        return memoryview(self.buffer).cast("B")[:SIZE]

    def grown_memory_view(self) -> memoryview:
        return self.memory_view()

    def contents(self) -> bytes:
        return self.buffer.raw


@pytest.fixture
def frame() -> FakeFrame:
    return FakeFrame()


@pytest.fixture
def memory(frame: FakeFrame) -> GuestMemory:
    return GuestMemory(frame)  # type: ignore[arg-type]


def test_read_copies_bytes_out(frame, memory):
    frame.buffer[10:15] = b"hello"
    assert memory.read(10, 5) == b"hello"
    assert memory.read(SIZE - 1, 1) == b"\0"


def test_empty_ranges_up_to_the_end_are_inside(memory):
    assert memory.read(SIZE, 0) == b""
    memory.write(SIZE, b"")
    assert memory.check(SIZE, 0) == 0


@pytest.mark.parametrize(("ptr", "length"), OUTSIDE)
def test_every_access_outside_memory_raises_and_touches_nothing(frame, memory, ptr, length):
    before = frame.contents()
    for access in (
        lambda: memory.read(ptr, length),
        lambda: memory.read_text(ptr, length),
        lambda: memory.check(ptr, length),
        lambda: memory.write_capped(ptr, length, b"x"),
    ):
        with pytest.raises(GuestFault, match="outside guest memory"):
            access()
    assert frame.contents() == before


@pytest.mark.parametrize(("ptr", "length"), [pair for pair in OUTSIDE if pair[1] >= 0])
def test_write_outside_memory_raises_and_touches_nothing(frame, memory, ptr, length):
    before = frame.contents()
    with pytest.raises(GuestFault, match="outside guest memory"):
        memory.write(ptr, b"x" * length)
    assert frame.contents() == before


def test_check_returns_the_length_as_unsigned():
    frame = FakeFrame()
    # A view that claims 4 GiB over the small buffer: `check` must never touch it.
    huge = memoryview((ctypes.c_char * 2**32).from_address(ctypes.addressof(frame.buffer))).cast("B")
    frame.memory_view = frame.grown_memory_view = lambda: huge  # type: ignore[method-assign]
    assert GuestMemory(frame).check(0, -1) == 2**32 - 1  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "text"), [(b"caf\xc3\xa9", "café"), (b"caf\xc3", None), (b"\xff", None)])
def test_read_text_decodes_utf8_or_returns_none(frame, memory, raw, text):
    frame.buffer[0 : len(raw)] = raw
    assert memory.read_text(0, len(raw)) == text


def test_write_copies_bytes_in(frame, memory):
    memory.write(SIZE - 3, b"end")
    assert frame.contents()[SIZE - 4 :] == b"\0endCANARY!!"


@pytest.mark.parametrize(
    ("cap", "written"), [(0, b"\0\0\0\0\0"), (3, b"hel\0\0"), (5, b"hello"), (8, b"hello")]
)
def test_write_capped_writes_at_most_cap_bytes_and_returns_the_full_length(frame, memory, cap, written):
    assert memory.write_capped(8, cap, b"hello") == 5
    assert frame.contents()[8:13] == written
    assert frame.contents()[13:16] == b"\0\0\0"


def test_write_capped_checks_the_whole_buffer_even_for_a_short_value(frame, memory):
    with pytest.raises(GuestFault):
        memory.write_capped(SIZE - 2, 4, b"a")
    assert frame.contents()[SIZE - 2 : SIZE] == b"\0\0"


class GrowingFrame(FakeFrame):
    """A frame whose first view is older than the memory: the guest grew it since."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def memory_view(self) -> memoryview:
        return memoryview(self.buffer).cast("B")[:16]

    def grown_memory_view(self) -> memoryview:
        self.looks += 1
        return super().memory_view()


def test_an_access_past_the_view_looks_again_before_it_is_refused():
    frame = GrowingFrame()
    memory = GuestMemory(frame)
    memory.write(8, b"early")
    assert frame.looks == 0  # inside the old view: no second look
    memory.write(SIZE - 4, b"late")
    assert frame.looks == 1
    assert frame.contents()[SIZE - 4 :] == b"lateCANARY!!"
    with pytest.raises(GuestFault, match=f"outside guest memory \\({SIZE} bytes\\)"):
        memory.read(SIZE - 2, 4)
