"""The guest call in progress on this thread, as host functions see it.

A Store is used by one thread at a time and a guest call is synchronous, so the call a host
function belongs to is simply the one this thread entered last. Host functions reach their
per-call state (`state`) and the guest's memory through the frame instead of through
wasmtime's `Caller`, which is slow to query.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from . import lowlevel

_local = threading.local()


class GuestFault(Exception):
    """Raised by a host function when the guest broke the ABI; the guest traps with it."""


class CallFrame:
    """One guest call: who is calling, with what state, and what went wrong, if anything.

    An instance keeps one frame and reuses it for each of its calls (never two at once), so
    the frame also remembers the guest's memory between calls: the engine never moves a
    memory (`memory_may_move` is off), and a memory never shrinks, so a view of the size last
    seen stays valid for the instance's life; only an access beyond it needs a new look.
    """

    __slots__ = (
        "_context",
        "_memory",
        "_previous",
        "_view",
        "fault",
        "function",
        "module",
        "state",
    )

    def __init__(self, state: Any, module: str, function: str):
        self.state = state
        self.module = module
        self.function = function
        self.fault: BaseException | None = None
        self._previous: CallFrame | None = None
        self._context: int | None = None
        self._memory: int | None = None
        self._view: memoryview | None = None

    def attach_memory(self, context: int, memory: int | None) -> None:
        """Give the frame its instance's memory: a `wasmtime_memory_t` address (None for none)
        in the store whose context address is `context`."""
        self._context, self._memory = context, memory
        self._view = None  # looked at on first use: many calls never touch memory

    def _look(self) -> memoryview:
        assert self._context is not None and self._memory is not None
        size = lowlevel.memory_size(self._context, self._memory)
        if not size:
            view = memoryview(bytearray())
        else:
            base = lowlevel.memory_base(self._context, self._memory)
            view = memoryview((ctypes.c_char * size).from_address(base)).cast("B")
        self._view = view
        return view

    def memory_view(self) -> memoryview:
        """The guest's memory as a writable byte view, as large as it was when last looked at.

        Raises `GuestFault` when the guest exports no memory. Call `grown_memory_view()`
        before refusing an access beyond it: the guest may have grown its memory since.
        """
        view = self._view
        if view is None:
            if self._memory is None:
                raise GuestFault("the module exports no memory named 'memory'")
            view = self._look()
        return view

    def grown_memory_view(self) -> memoryview:
        """Look at the memory's size again and return a view of all of it.

        Raises `GuestFault` when the guest exports no memory.
        """
        view = self.memory_view()
        assert self._context is not None and self._memory is not None
        if lowlevel.memory_size(self._context, self._memory) != len(view):
            view = self._look()
        return view

    def __enter__(self) -> CallFrame:
        self._previous = getattr(_local, "frame", None)
        _local.frame = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        _local.frame = self._previous
        self._previous = None


def current_frame() -> CallFrame | None:
    """The frame of the guest call this thread is running, or None outside any call."""
    frame: CallFrame | None = getattr(_local, "frame", None)
    return frame
