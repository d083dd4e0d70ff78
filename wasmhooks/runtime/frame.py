"""The guest call in progress on this thread, as host functions see it.

A Store is used by one thread at a time and a guest call is synchronous, so the call a host
function belongs to is simply the one this thread entered last. Host functions reach their
per-call state (`state`) and the guest's memory through the frame instead of through
wasmtime's `Caller`, which is slow to query.
"""

from __future__ import annotations

import threading
from typing import Any

import wasmtime

from . import lowlevel

_local = threading.local()


class GuestFault(Exception):
    """Raised by a host function when the guest broke the ABI; the guest traps with it."""


class CallFrame:
    """One guest call: who is calling, with what state, and what went wrong, if anything."""

    __slots__ = ("_previous", "context", "fault", "function", "memory", "module", "state")

    def __init__(self, state: Any, memory: wasmtime.Memory | None, module: str, function: str):
        self.state = state
        self.memory = memory
        self.module = module
        self.function = function
        self.context: Any = None
        self.fault: BaseException | None = None
        self._previous: CallFrame | None = None

    def memory_region(self) -> tuple[int, int]:
        """Return the guest memory's current (base address, size in bytes).

        Raises `GuestFault` when the guest exports no memory. The base moves when memory
        grows, so callers ask again after anything that may have run guest code.
        """
        if self.memory is None:
            raise GuestFault("the module exports no memory named 'memory'")
        return lowlevel.memory_region(self.context, self.memory)

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
