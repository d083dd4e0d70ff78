"""Bounds-checked access to a guest's linear memory, shared by every host function.

Nothing a guest passes is trusted: pointers and lengths arrive as signed i32 and are read as
unsigned; a range that does not lie wholly inside memory raises `GuestFault`, which traps the
guest (`HookABIError`) and never touches host memory.
"""

from __future__ import annotations

from wasmhooks.runtime import CallFrame, GuestFault

_U32 = 0xFFFFFFFF


class GuestMemory:
    """The guest memory of one host call, as the frame's byte view of it.

    Build one per host function: the view may be smaller than memory has grown since it was
    made, so an access beyond it looks again before it is refused.
    """

    __slots__ = ("frame", "size", "view")

    def __init__(self, frame: CallFrame) -> None:
        self.frame = frame
        self.view = frame.memory_view()
        self.size = len(self.view)

    def _checked(self, ptr: int, length: int) -> tuple[int, int]:
        ptr &= _U32
        length &= _U32
        if ptr + length > self.size:
            # The view is as large as memory was when last looked at: the guest may have grown it.
            self.view = self.frame.grown_memory_view()
            self.size = len(self.view)
            if ptr + length > self.size:
                raise GuestFault(
                    f"range of {length} bytes at {ptr} is outside guest memory ({self.size} bytes)"
                )
        return ptr, length

    def check(self, ptr: int, length: int) -> int:
        """Return `length` as unsigned if `(ptr, length)` lies in memory; else raise `GuestFault`."""
        return self._checked(ptr, length)[1]

    def read(self, ptr: int, length: int) -> bytes:
        """Copy `length` bytes at `ptr` out of the guest. Raises `GuestFault` if out of bounds."""
        ptr, length = self._checked(ptr, length)
        return self.view[ptr : ptr + length].tobytes()

    def read_text(self, ptr: int, length: int) -> str | None:
        """Read a UTF-8 string; None when it is not valid UTF-8. Raises `GuestFault` if out of bounds."""
        ptr, length = self._checked(ptr, length)
        try:
            return str(self.view[ptr : ptr + length], "utf-8")
        except UnicodeDecodeError:
            return None

    def write(self, ptr: int, data: bytes) -> None:
        """Copy `data` into the guest at `ptr`. Raises `GuestFault` if out of bounds."""
        ptr, length = self._checked(ptr, len(data))
        self.view[ptr : ptr + length] = data

    def write_capped(self, buf: int, cap: int, data: bytes) -> int:
        """Write at most `cap` bytes of `data` at `buf`; return the full length of `data`.

        The whole `(buf, cap)` range must lie in memory, or `GuestFault` is raised.
        """
        buf, cap = self._checked(buf, cap)
        count = len(data)
        if count <= cap:
            self.view[buf : buf + count] = data
        else:
            self.view[buf : buf + cap] = data[:cap]
        return count
